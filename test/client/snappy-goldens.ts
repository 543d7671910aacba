/**
 * Snappy block goldens from golang/snappy v1.0.0 (snappy.Encode; for string messages also
 * base64.StdEncoding of the block, as kiteq-client-go sends), generated once by a throwaway Go
 * program and pasted here. `input(name)` rebuilds each input, so only the outputs are stored.
 *
 * `oursHex` is set where snappyjs's encoder chooses a different (equally valid) encoding than Go's:
 * a 256-byte literal with a 2-byte length instead of 1, and different matches across the 64 KiB
 * block boundary. Those exact bytes were fed back to golang/snappy's Decode by the same throwaway
 * program and decoded to the input, so Go consumers read what we send.
 */
export interface SnappyGolden {
  name: string
  kind: 'string' | 'bytes'
  goHex: string
  goBase64?: string
  oursHex?: string
}

/** The Go program's inputs, rebuilt. */
export function goldenInput(name: string): Buffer {
  switch (name) {
    case 'empty': return Buffer.alloc(0)
    case 'hello': return Buffer.from('hello')
    case 'repeated-ascii': return Buffer.from('KiteQ snappy golden: ' + 'abcdefgh'.repeat(10))
    case 'utf8': return Buffer.from('消息队列 KiteQ — snappy ✓ '.repeat(4))
    case 'a-x100': return Buffer.alloc(100, 'a')
    case 'seq-0-255': return Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    case 'lcg-300': {
      // Go: x = x*1103515245 + 12345 (uint32), byte(x >> 16), seed 20240601
      const b = Buffer.alloc(300)
      let x = 20240601
      for (let i = 0; i < b.length; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0
        b[i] = (x >>> 16) & 0xff
      }
      return b
    }
    case 'period251-70000': return Buffer.from(Array.from({ length: 70000 }, (_, i) => i % 251))
    default: throw new Error(`no golden input ${name}`)
  }
}

export const snappyGoldens: readonly SnappyGolden[] = [
  {
    name: 'empty',
    kind: 'string',
    goHex: '00',
    goBase64: 'AA==',
  },
  {
    name: 'hello',
    kind: 'string',
    goHex: '051068656c6c6f',
    goBase64: 'BRBoZWxsbw==',
  },
  {
    name: 'repeated-ascii',
    kind: 'string',
    goHex: '65704b6974655120736e6170707920676f6c64656e3a206162636465666768fe08001108',
    goBase64: 'ZXBLaXRlUSBzbmFwcHkgZ29sZGVuOiBhYmNkZWZnaP4IABEI',
  },
  {
    name: 'utf8',
    kind: 'string',
    goHex: '880188e6b688e681afe9989fe58897204b6974655120e2809420736e6170707920e29c9320e6fe2200922200',
    goBase64: 'iAGI5raI5oGv6Zif5YiXIEtpdGVRIOKAlCBzbmFwcHkg4pyTIOb+IgCSIgA=',
  },
  {
    name: 'a-x100',
    kind: 'bytes',
    goHex: '640061fe01008a0100',
  },
  {
    name: 'seq-0-255',
    kind: 'bytes',
    goHex: [
      '8002f0ff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d',
      '2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f',
      '606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f9091',
      '92939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3',
      'c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5',
      'f6f7f8f9fafbfcfdfeff',
    ].join(''),
    oursHex: [
      '8002f4ff00000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c',
      '2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e',
      '5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f90',
      '9192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2',
      'c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4',
      'f5f6f7f8f9fafbfcfdfeff',
    ].join(''),
  },
  {
    name: 'lcg-300',
    kind: 'bytes',
    goHex: [
      'ac02f42b01684d9591b8b3f027a87ed7adab1a7cf0d033df90d0cfb37ed7281136134bdebbfd71fd576a20350f5001e1e859',
      '805add2a26259b70b6db02af09dc5cc9a9b35b513047d48d5fc73e4dfd53e96f756bfe2d2f183a2daadc69465e5ba51353c6',
      '4c3a810bc27ae6bdec766ac5674372c68cb34651255f23ceec761f25c749c12fc5925ce0d887303150a33ece1c2fef84bf93',
      '6368135e9ac8c11645d37cc16a080030ba5fce0eb238a4ac7407be8a62bdcfa580f5be8387e321ffc8fd7ad4c76734ec931f',
      '5b66e6ed1e69010806ac4688f4c19290dd24603744079f3b7adb4e64989eddb939e74466f8b3e068aded10fe66bf93d0279b',
      'a0dc6208c224352d7a19661f93c51eea43bc686106c069a63a375d787b4d563fbce9b3d92a516122c19cd445aadbc4c65b06',
      'a84b6da8f3',
    ].join(''),
  },
  {
    name: 'period251-70000',
    kind: 'bytes',
    goHex: [
      'f0a204f0fd000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c',
      '2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e',
      '5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f90',
      '9192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2',
      'c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4',
      'f5f6f7f8f9fa000102fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00eefb0009fbf0fd191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233',
      '3435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465',
      '666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f9091929394959697',
      '98999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9',
      'cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fa00',
      '0102030405060708090a0b0c0d0e0f101112131415161718191a1bfefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00c6fb00',
    ].join(''),
    oursHex: [
      'f0a204f0fc000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c',
      '2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e',
      '5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f90',
      '9192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2',
      'c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4',
      'f5f6f7f8f9fa0001fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00eefb000dfbf0fc191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334',
      '35363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263646566',
      '6768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798',
      '999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9ca',
      'cbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fa0001',
      '02030405060708090a0b0c0d0e0f101112131415161718191afefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00',
      'fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb',
      '00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fefb00fe',
      'fb00fefb00fefb00fefb00fefb00fefb00fefb00cafb00',
    ].join(''),
  },
]
