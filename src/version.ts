/** fabio-ts version, printed by -v and served at /api/version. */
export const VERSION = '0.1.0';
