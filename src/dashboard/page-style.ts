/** The dashboard's stylesheet: system fonts, light and dark, tables that scroll sideways on a phone. */
export const pageCss = `
:root { --fg: #1b1f24; --muted: #5b6570; --bg: #fff; --card: #f5f7f9; --line: #d8dee4; --ok: #2e7d32; --bad: #c62828; --warn: #b26a00; --accent: #1f6feb; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ed; --muted: #9aa5b1; --bg: #14171a; --card: #1d2226; --line: #333b42; --ok: #66bb6a; --bad: #ef5350; --warn: #ffb74d; --accent: #58a6ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
.top { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); }
.top h1 { font-size: 1.15rem; margin: 0; }
.live { font-size: .85rem; color: var(--muted); }
.live.on::before { content: "● "; color: var(--ok); }
.live.off::before { content: "● "; color: var(--bad); }
#operator { margin-left: auto; font-size: .85rem; }
#operator input { width: 12rem; max-width: 60vw; }
#operator small { display: block; color: var(--muted); }
.banner { margin: .6rem 1rem; padding: .6rem .8rem; border-radius: 6px; background: #fdecea; color: #7f1d1d; border: 1px solid var(--bad); }
@media (prefers-color-scheme: dark) { .banner { background: #3b1618; color: #ffd6d6; } }
main { padding: 0 1rem 2rem; max-width: 1200px; margin: 0 auto; }
section.group { margin-top: 1.2rem; }
section.group > h2 { font-size: 1.1rem; margin: .2rem 0 .6rem; }
h3 { font-size: .95rem; margin: 1rem 0 .4rem; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.muted { color: var(--muted); }
.error { color: var(--bad); }
.bar { display: flex; height: 1.6rem; border-radius: 6px; overflow: hidden; border: 1px solid var(--line); }
.bar > div { display: flex; align-items: center; justify-content: center; min-width: 2px; font-size: .8rem; color: #fff; white-space: nowrap; overflow: hidden; }
.bar .failed { background: var(--bad); }
.legend { display: flex; flex-wrap: wrap; gap: .3rem 1rem; font-size: .85rem; margin-top: .3rem; }
.legend i { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .3rem; vertical-align: -1px; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; white-space: nowrap; }
th button.sort { all: unset; cursor: pointer; }
th button.sort:focus-visible { outline: 2px solid var(--accent); }
th[aria-sort="ascending"] button.sort::after { content: " ▲"; }
th[aria-sort="descending"] button.sort::after { content: " ▼"; }
tr.node { cursor: pointer; }
tr.node:hover { background: var(--card); }
tr.node.failed td.state { color: var(--bad); font-weight: 600; }
tr.node.lost { color: var(--muted); }
tr.detail td { background: var(--card); }
tr.detail pre { white-space: pre-wrap; word-break: break-word; margin: .2rem 0; font-size: .85rem; }
.pill { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .8rem; border: 1px solid var(--line); }
.pill.halted { color: var(--bad); border-color: var(--bad); }
.pill.running { color: var(--ok); border-color: var(--ok); }
.pill.slot { margin-left: .4rem; color: var(--warn); border-color: var(--warn); font-weight: normal; }
.controls { display: flex; flex-wrap: wrap; gap: .4rem .8rem; margin-bottom: .4rem; font-size: .9rem; }
.controls select, .controls input { font: inherit; padding: .15rem .3rem; }
button { font: inherit; padding: .2rem .7rem; border-radius: 6px; border: 1px solid var(--line); background: var(--card); color: var(--fg); cursor: pointer; }
button.danger { border-color: var(--bad); color: var(--bad); }
dialog { border: 1px solid var(--line); border-radius: 8px; background: var(--bg); color: var(--fg); max-width: 30rem; width: calc(100vw - 2rem); }
dialog h2 { font-size: 1.05rem; margin-top: 0; }
dialog input { width: 100%; font: inherit; padding: .3rem; margin-top: .2rem; }
dialog .buttons { display: flex; gap: .6rem; justify-content: flex-end; margin-top: .8rem; }
ul.audit { list-style: none; padding: 0; margin: 0; font-size: .85rem; }
ul.audit li { padding: .2rem 0; border-bottom: 1px solid var(--line); }
@media (max-width: 640px) { .wide { display: none; } body { font-size: 14px; } main { padding: 0 .5rem 2rem; } }
`;
