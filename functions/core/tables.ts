/** Plain-text tables for emails and the operator's command. */

/**
 * Rows (the first is the header) as aligned columns two spaces apart: the
 * first column left-aligned, the others right-aligned when `numeric`.
 */
export function renderTable(
  rows: string[][],
  opts: {indent?: string; numeric?: boolean} = {},
): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map(r => (r[i] ?? '').length)));
  return rows
    .map(
      r =>
        (opts.indent ?? '') +
        r
          .map((cell, i) =>
            i > 0 && opts.numeric ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!),
          )
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}
