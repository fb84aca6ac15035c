// AWS's UriEncode: every byte except the unreserved characters A-Z a-z 0-9 - . _ ~ is
// percent-encoded with upper-case hex; '/' is kept when encoding a path.

const UNRESERVED = /[A-Za-z0-9\-._~]/;

export function uriEncode(value: string, keepSlash: boolean): string {
  let out = '';
  for (const ch of value) {
    if (UNRESERVED.test(ch) || (keepSlash && ch === '/')) {
      out += ch;
    } else {
      for (const byte of Buffer.from(ch, 'utf8')) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

/** Decodes %XX sequences (and only those: '+' stays '+', as S3 treats it in paths). */
export function percentDecode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    // A stray '%' or invalid UTF-8 somewhere: decode each run of %XX escapes as UTF-8 on its own
    // (invalid bytes become U+FFFD, never Latin-1 look-alikes), leaving a lone '%' as it is.
    return value.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
  }
}

/** Decodes a query component, where '+' means space (form encoding, which some clients use). */
export function queryDecode(value: string): string {
  return percentDecode(value.replace(/\+/g, ' '));
}
