// A typed door to parse-prometheus-text-format (it ships no types): the Prometheus text
// format parsed back into families, so tests check what a scraper would read.
import parse from 'parse-prometheus-text-format';

export interface Sample {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
export interface Family {
  name: string;
  help: string;
  type: 'GAUGE' | 'COUNTER' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: Sample[];
}

export function parsePrometheus(text: string): Family[] {
  return (parse as unknown as (t: string) => Family[])(text);
}

/** The family named `name`, failing the test when there is none. */
export function family(families: Family[], name: string): Family {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`no metric family ${name} in ${families.map((x) => x.name).join(', ')}`);
  return f;
}
