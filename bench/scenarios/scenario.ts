/** What a scenario hands back to the runner: the tables to print and the data to save. */
export interface ScenarioReport {
  /** Markdown: headings, tables and notes. */
  markdown: string
  /** Settings, summaries and raw measurements, written to bench/results/<scenario>-<date>.json. */
  json: Record<string, unknown>
}
