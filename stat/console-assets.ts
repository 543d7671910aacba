/**
 * The web console's files: a fixed list (no path from the request ever reaches the file system),
 * read once and kept in memory. The app lives in stat/console/; uPlot is copied next to it by
 * build.sh (dist/stat/console/vendor/), and is read from node_modules when running from source.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

interface Asset {
  contentType: string
  /** Candidate locations, first found wins. */
  paths: () => string[]
}

const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url))
const fromPackage = (specifier: string) => {
  try {
    return [createRequire(import.meta.url).resolve(specifier)]
  } catch {
    return []
  }
}

const assets: Record<string, Asset> = {
  '/': { contentType: 'text/html; charset=utf-8', paths: () => [here('./console/index.html')] },
  '/console/app.js': { contentType: 'text/javascript; charset=utf-8', paths: () => [here('./console/app.js')] },
  '/console/style.css': { contentType: 'text/css; charset=utf-8', paths: () => [here('./console/style.css')] },
  '/console/vendor/uPlot.iife.min.js': {
    contentType: 'text/javascript; charset=utf-8',
    paths: () => [here('./console/vendor/uPlot.iife.min.js'), ...fromPackage('uplot/dist/uPlot.iife.min.js')],
  },
  '/console/vendor/uPlot.min.css': {
    contentType: 'text/css; charset=utf-8',
    paths: () => [here('./console/vendor/uPlot.min.css'), ...fromPackage('uplot/dist/uPlot.min.css')],
  },
}

const cache = new Map<string, Promise<Buffer | undefined>>()

async function load(asset: Asset): Promise<Buffer | undefined> {
  for (const path of asset.paths()) {
    try {
      return await readFile(path)
    } catch {
      // next candidate
    }
  }
  return undefined
}

/** The file served at `urlPath`, or undefined when there is none (or it is missing from the install). */
export async function consoleAsset(urlPath: string): Promise<{ body: Buffer; contentType: string } | undefined> {
  const asset = Object.hasOwn(assets, urlPath) ? assets[urlPath] : undefined
  if (asset === undefined) return undefined
  let loading = cache.get(urlPath)
  if (loading === undefined) {
    loading = load(asset)
    cache.set(urlPath, loading)
  }
  const body = await loading
  return body === undefined ? undefined : { body, contentType: asset.contentType }
}
