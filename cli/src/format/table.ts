// Tables the way kubectl prints them: upper-case headers, columns padded to
// their widest cell and three spaces apart, nothing padded after the last
// column, so the output reads like `kubectl get` and splits on whitespace.
const GAP = "   ";

function width(text: string): number {
  return [...text].length;
}

export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [headers.map((header) => header.toUpperCase()), ...rows];
  const widths = headers.map((_, column) => Math.max(...all.map((row) => width(row[column] ?? ""))));
  const lines = all.map((row) =>
    headers
      .map((_, column) => {
        const cell = row[column] ?? "";
        return column === headers.length - 1 ? cell : cell + " ".repeat((widths[column] ?? 0) - width(cell));
      })
      .join(GAP)
      .trimEnd(),
  );
  return `${lines.join("\n")}\n`;
}
