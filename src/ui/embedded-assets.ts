/**
 * The UI assets compiled into the single executable. Here, in the source tree and in dist/, there are
 * none: static-assets.ts reads the assets folder next to it. scripts/build-binary.mjs replaces this
 * module in the bundle with one that holds every file of src/ui/assets, because the executable runs
 * with no files beside it.
 */
export const EMBEDDED_ASSETS: ReadonlyMap<string, Buffer> | undefined = undefined;
