// Message framing a backend could read differently from the gateway is
// refused before anything else looks at the request: Node's parser already
// rejects obs-fold, bare LF and conflicting Content-Length values; this adds
// the cases it lets through on a raw header list (rawHeaders: name, value, …).

export function framingProblem(rawHeaders: readonly string[]): string | undefined {
  const values = (wanted: string): string[] => {
    const found: string[] = [];
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) if ((rawHeaders[i] ?? "").toLowerCase() === wanted) found.push(rawHeaders[i + 1] ?? "");
    return found;
  };
  const lengths = values("content-length");
  const encodings = values("transfer-encoding");
  if (lengths.length > 0 && encodings.length > 0) return "the request has both Content-Length and Transfer-Encoding";
  if (lengths.length > 1) return "the request has more than one Content-Length header";
  if (lengths.length === 1 && !/^\d{1,15}$/.test(lengths[0] ?? "")) return `the Content-Length "${lengths[0] ?? ""}" is not a single decimal number`;
  if (encodings.length > 1 || (encodings.length === 1 && (encodings[0] ?? "").trim().toLowerCase() !== "chunked")) {
    return "the only Transfer-Encoding accepted is a single chunked";
  }
  if (values("host").length !== 1) return "the request must have exactly one Host header";
  return undefined;
}
