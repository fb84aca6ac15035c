/** An ETag without its surrounding quotes (and blanks), as clients may send it either way. */
export function bareEtag(etag: string): string {
  return etag.trim().replace(/^"|"$/g, '');
}
