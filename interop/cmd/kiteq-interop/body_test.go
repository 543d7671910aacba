package main

import "testing"

func TestBodyRule(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef"
	s := stringBody(id, 512)
	if len(s) != 512 || s[:38] != "hello-"+id || !verifyString(id, s, 512) || !verifyString(id, s, 0) {
		t.Fatalf("string body rule broken: %q", s[:40])
	}
	if got := stringBody(id, 10); got != "hello-"+id || !verifyString(id, got, 10) {
		t.Fatalf("short string body must not be cut: %q", got)
	}
	if verifyString(id, "hello-"+id+"..x", 0) || verifyString("ffffffffffffffffffffffffffffffff", s, 0) {
		t.Fatal("corrupt string body accepted")
	}
	b := bytesBody(id, 100)
	if len(b) != 100 || string(b[:32]) != id || string(b[96:]) != "0123" || !verifyBytes(id, b, 100) {
		t.Fatalf("bytes body rule broken: %q", b)
	}
	if verifyBytes(id, b, 99) {
		t.Fatal("wrong length accepted")
	}
	b[50] ^= 1
	if verifyBytes(id, b, 0) {
		t.Fatal("corrupt bytes body accepted")
	}
}
