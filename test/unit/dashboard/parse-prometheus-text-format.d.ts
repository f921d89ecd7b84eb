// parse-prometheus-text-format ships no types; prometheus-text.ts gives it its shape.
declare module 'parse-prometheus-text-format' {
  const parse: (text: string) => unknown;
  export default parse;
}
