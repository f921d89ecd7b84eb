/**
 * The dashboard's script, sent as /app.js: it opens the event stream, draws each group
 * (version bar, rollouts, slots, sortable and filterable node table with a detail row per
 * node, audit trail) with DOM text nodes only, and asks for a confirmation before an action.
 * Plain ES2017 that every current browser runs as it is: no build step. Kept as a string
 * (String.raw, so its backslashes stay) so the single-file bundle carries it; ASCII only,
 * other characters as \u escapes (the bundle is ASCII: see scripts/build.mjs).
 */
export const pageScript = String.raw`'use strict';
(function () {
  var state = { view: null, offsetMs: 0, sort: {}, filter: {}, open: {}, pending: null };
  var $ = function (id) { return document.getElementById(id); };
  var palette = ['#1f6feb', '#8250df', '#1a7f37', '#bf8700', '#0a7ea4', '#cf222e', '#6e7781', '#953800'];

  // Every value from the server becomes a text node: no record can inject markup.
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'class') node.className = attrs[k];
      else if (k === 'text') node.textContent = attrs[k];
      // CSSOM, not a style attribute: the Content-Security-Policy forbids inline styles.
      else if (k === 'style') node.style.cssText = attrs[k];
      else if (k.indexOf('on') === 0) node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return node;
  }
  function duration(ms) {
    if (!(ms >= 0)) return '-';
    var s = Math.floor(ms / 1000);
    if (s < 60) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm' + String(s % 60).padStart(2, '0') + 's';
    var h = Math.floor(m / 60);
    if (h < 48) return h + 'h' + String(m % 60).padStart(2, '0') + 'm';
    return Math.floor(h / 24) + 'd' + (h % 24) + 'h';
  }
  function since(iso) { var t = Date.parse(iso); return isNaN(t) ? NaN : Date.now() - state.offsetMs - t; }
  function colorOf(versions, v) { return palette[versions.indexOf(v) % palette.length]; }

  function versionBar(g) {
    var total = g.versions.reduce(function (n, v) { return n + v.nodes; }, 0);
    var names = g.versions.map(function (v) { return v.version; });
    var bar = el('div', { class: 'bar', role: 'img', 'aria-label': g.versions.map(function (v) { return v.version + ': ' + v.nodes + ' nodes, ' + v.failed + ' failed'; }).join('; ') || 'no nodes' });
    var legend = el('div', { class: 'legend' });
    g.versions.forEach(function (v) {
      var ok = v.nodes - v.failed;
      if (ok > 0) bar.appendChild(el('div', { style: 'flex:' + ok + ';background:' + colorOf(names, v.version), title: v.version + ': ' + ok }, ok));
      if (v.failed > 0) bar.appendChild(el('div', { class: 'failed', style: 'flex:' + v.failed, title: v.version + ': ' + v.failed + ' failed' }, v.failed));
      legend.appendChild(el('span', null, el('i', { style: 'background:' + colorOf(names, v.version) }), v.version + ' ', el('b', null, v.nodes), v.failed ? el('span', { class: 'error' }, ' (' + v.failed + ' failed)') : null));
    });
    return el('div', null, total ? bar : el('p', { class: 'muted' }, 'No live nodes.'), legend);
  }

  function rollouts(g) {
    if (!g.rollouts.length) return el('p', { class: 'muted' }, 'No rollout records.');
    var body = el('tbody');
    g.rollouts.forEach(function (r) {
      var halt = r.halted ? el('div', null, el('span', { class: 'error' }, r.halted.reason), el('div', { class: 'muted' }, 'by ' + r.halted.by + (r.halted.machineId ? ', tripped by ' + r.halted.machineId + (r.halted.error ? ': ' + r.halted.error : '') : '') + ', ' + duration(since(r.halted.at)) + ' ago')) : '-';
      var button = r.state === 'halted'
        ? el('button', { type: 'button', 'data-action': 'resume', onclick: function () { ask(g.group, 'resume', r.version); } }, 'Resume')
        : el('button', { type: 'button', class: 'danger', 'data-action': 'halt', onclick: function () { ask(g.group, 'halt', r.version); } }, 'Halt');
      body.appendChild(el('tr', { 'data-version': r.version }, el('td', null, r.version), el('td', null, el('span', { class: 'pill ' + r.state }, r.state)), el('td', null, r.started), el('td', null, r.succeeded), el('td', { class: r.failed ? 'error' : '' }, r.failed), el('td', null, halt), el('td', null, button)));
    });
    return el('div', { class: 'scroll' }, el('table', { class: 'rollouts' }, el('thead', null, el('tr', null, el('th', null, 'Version'), el('th', null, 'State'), el('th', null, 'Started'), el('th', null, 'Succeeded'), el('th', null, 'Failed'), el('th', null, 'Halt reason'), el('th', null, ''))), body));
  }

  function slots(g) {
    if (!g.slots) return el('p', { class: 'muted' }, 'No node has taken the reboot lock yet.');
    var head = el('p', null, g.slots.holders.length + ' of ' + g.slots.total + ' slot' + (g.slots.total === 1 ? '' : 's') + ' held');
    if (!g.slots.holders.length) return head;
    var body = el('tbody');
    g.slots.holders.forEach(function (h) {
      body.appendChild(el('tr', { 'data-holder': h.holder }, el('td', null, h.holder), el('td', null, h.hostname || '-'), el('td', null, h.since ? duration(since(h.since)) : '-'),
        el('td', null, el('button', { type: 'button', class: 'danger', 'data-action': 'release', onclick: function () { ask(g.group, 'release', h.holder); } }, 'Release'))));
    });
    return el('div', null, head, el('div', { class: 'scroll' }, el('table', { class: 'slots' }, el('thead', null, el('tr', null, el('th', null, 'Holder'), el('th', null, 'Hostname'), el('th', null, 'Held for'), el('th', null, ''))), body)));
  }

  var columns = [['machineId', 'Machine ID', ''], ['hostname', 'Hostname', 'wide'], ['version', 'Version', ''], ['state', 'State', ''], ['for', 'For', ''], ['lastCheck', 'Last check', 'wide'], ['error', 'Last error', '']];
  function sortValue(n, key) {
    if (key === 'for') return -Date.parse(n.stateSince);
    if (key === 'error') return n.lastError ? n.lastError.message : '';
    if (key === 'state') return (n.lost ? 'lost ' : '') + n.state;
    return n[key] || '';
  }
  function options(select, values, label) {
    var keep = select.value;
    select.textContent = '';
    select.appendChild(el('option', { value: '' }, 'all ' + label));
    values.forEach(function (v) { select.appendChild(el('option', { value: v }, v)); });
    select.value = values.indexOf(keep) >= 0 ? keep : '';
  }
  function controls(group, box) {
    var f = state.filter[group] = state.filter[group] || { state: '', version: '', text: '' };
    var stateSel = el('select', { 'aria-label': 'filter by state', 'data-filter': 'state', onchange: function () { f.state = stateSel.value; render(); } });
    var versionSel = el('select', { 'aria-label': 'filter by version', 'data-filter': 'version', onchange: function () { f.version = versionSel.value; render(); } });
    var text = el('input', { type: 'search', placeholder: 'machine id or hostname', 'aria-label': 'search nodes', oninput: function () { f.text = text.value; render(); } });
    box.appendChild(el('div', { class: 'controls' }, stateSel, versionSel, text, el('span', { class: 'muted count' })));
    return { stateSel: stateSel, versionSel: versionSel };
  }
  function nodes(g, section) {
    var f = state.filter[g.group];
    var uniq = function (k) { return g.nodes.map(function (n) { return k === 'state' && n.lost ? 'lost' : n[k]; }).filter(function (v, i, a) { return a.indexOf(v) === i; }).sort(); };
    options(section.ctl.stateSel, uniq('state'), 'states');
    options(section.ctl.versionSel, uniq('version'), 'versions');
    f.state = section.ctl.stateSel.value; f.version = section.ctl.versionSel.value;
    var s = state.sort[g.group] || { key: 'machineId', dir: 1 };
    var text = f.text.toLowerCase();
    var rows = g.nodes.filter(function (n) {
      return (!f.state || (f.state === 'lost' ? n.lost : !n.lost && n.state === f.state)) && (!f.version || n.version === f.version) && (!text || (n.machineId + ' ' + n.hostname).toLowerCase().indexOf(text) >= 0);
    }).sort(function (a, b) { var x = sortValue(a, s.key), y = sortValue(b, s.key); return (x < y ? -1 : x > y ? 1 : 0) * s.dir; });
    // A table of thousands of rows redrawn on every change would stall a phone: show the first rows, filter for the rest.
    var shownMax = 500;
    section.box.querySelector('.count').textContent = rows.length + ' of ' + g.nodes.length + ' nodes' + (rows.length > shownMax ? ', the first ' + shownMax + ' shown: filter to narrow' : '');
    rows = rows.slice(0, shownMax);
    var head = el('tr');
    columns.forEach(function (c) {
      var th = el('th', { class: c[2], 'aria-sort': s.key === c[0] ? (s.dir > 0 ? 'ascending' : 'descending') : 'none' }, el('button', { type: 'button', class: 'sort', onclick: function () { state.sort[g.group] = { key: c[0], dir: s.key === c[0] ? -s.dir : 1 }; render(); } }, c[1]));
      head.appendChild(th);
    });
    var body = el('tbody');
    rows.forEach(function (n) {
      var key = g.group + '/' + n.machineId;
      var tr = el('tr', { class: 'node' + (n.failed ? ' failed' : '') + (n.lost ? ' lost' : ''), 'data-node': n.machineId, tabindex: '0', 'aria-expanded': state.open[key] ? 'true' : 'false',
        onclick: function () { state.open[key] = !state.open[key]; render(); },
        onkeydown: function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); state.open[key] = !state.open[key]; render(); } } },
        el('td', null, n.machineId), el('td', { class: 'wide' }, n.hostname), el('td', null, n.version + ' (' + n.slot + ')' + (n.staged ? ' \u2192 ' + n.staged : '')),
        el('td', { class: 'state' }, n.lost ? 'lost (was ' + n.state + ')' : n.state, n.holdsSlot ? el('span', { class: 'pill slot', title: 'holds a reboot slot' }, 'slot') : null), el('td', null, duration(since(n.stateSince))),
        el('td', { class: 'wide' }, n.lastCheck ? duration(since(n.lastCheck)) + ' ago' : '-'), el('td', { class: n.lastError ? 'error' : '' }, n.lastError ? n.lastError.message.slice(0, 80) : '-'));
      body.appendChild(tr);
      if (state.open[key]) body.appendChild(detail(n));
    });
    return el('div', { class: 'scroll' }, el('table', { class: 'nodes' }, el('thead', null, head), body));
  }
  function detail(n) {
    var hist = el('ol');
    n.history.slice().reverse().forEach(function (h) { hist.appendChild(el('li', null, h.state + ' on ' + h.version + ' since ' + h.since)); });
    return el('tr', { class: 'detail' }, el('td', { colspan: String(columns.length) },
      el('div', null, el('b', null, 'Last error: '), n.lastError ? el('pre', null, n.lastError.message + '\n(at ' + n.lastError.at + ')') : 'none'),
      el('div', null, el('b', null, 'Health gate: '), n.health ? n.health.verdict + ' at ' + n.health.at + (n.health.detail ? ': ' + n.health.detail : '') : 'not reported'),
      el('div', null, el('b', null, 'Last check: '), n.lastCheck || 'never'),
      el('div', null, el('b', null, 'History (seen by this server, newest first):'), hist)));
  }
  function audit(g) {
    if (!g.audit.length) return el('p', { class: 'muted' }, 'No operator actions recorded.');
    var list = el('ul', { class: 'audit' });
    g.audit.forEach(function (a) { list.appendChild(el('li', null, a.at + ' ', el('b', null, a.who.name), ' (' + a.who.via + ') ' + a.action + ' ' + a.target + (a.reason ? ': ' + a.reason : '') + ' \u2192 ' + a.result)); });
    return list;
  }

  var sections = {};
  function render() {
    var v = state.view;
    if (!v) return;
    var main = $('groups');
    var waiting = $('waiting');
    if (waiting) waiting.remove();
    v.groups.forEach(function (g) {
      var s = sections[g.group];
      if (!s) {
        s = sections[g.group] = { root: el('section', { class: 'group', 'data-group': g.group }), box: el('div') };
        s.parts = { bar: el('div'), rollouts: el('div'), slots: el('div'), nodes: el('div'), audit: el('div') };
        s.ctl = controls(g.group, s.box);
        s.root.append(el('h2', null, 'Group ' + g.group), el('h3', null, 'Versions'), s.parts.bar, el('h3', null, 'Rollouts'), s.parts.rollouts, el('h3', null, 'Reboot slots'), s.parts.slots, el('h3', null, 'Nodes'), s.box, s.parts.nodes, el('h3', null, 'Operator actions'), s.parts.audit);
        main.appendChild(s.root);
      }
      s.parts.bar.replaceChildren(versionBar(g));
      s.parts.rollouts.replaceChildren(rollouts(g));
      s.parts.slots.replaceChildren(slots(g));
      s.parts.nodes.replaceChildren(nodes(g, s));
      s.parts.audit.replaceChildren(audit(g));
      if (g.warnings.length) s.parts.audit.appendChild(el('p', { class: 'error' }, g.warnings.length + ' record(s) could not be read: ' + g.warnings.slice(0, 3).join('; ')));
    });
    var banner = $('banner');
    if (!v.etcd.connected) {
      banner.textContent = 'etcd is unreachable (' + (v.etcd.error || 'no answer') + ') since ' + v.etcd.since + '. Showing the last known state; the server reconnects by itself.';
      banner.hidden = false;
    } else if (!state.streamDown) banner.hidden = true;
  }

  function connect() {
    var live = $('live');
    var source = new EventSource('/api/v1/events');
    source.addEventListener('view', function (e) {
      var v = JSON.parse(e.data);
      state.offsetMs = Date.now() - Date.parse(v.generatedAt);
      state.view = v;
      state.streamDown = false;
      live.textContent = v.etcd.connected ? 'live' : 'etcd unreachable';
      live.className = 'live ' + (v.etcd.connected ? 'on' : 'off');
      render();
    });
    source.addEventListener('error', function () {
      state.streamDown = true;
      live.textContent = 'reconnecting\u2026';
      live.className = 'live off';
      var banner = $('banner');
      banner.textContent = 'Lost the connection to the dashboard server; showing the last known state and reconnecting.';
      banner.hidden = false;
    });
  }

  var verbs = { halt: 'Halt', resume: 'Resume', release: 'Release' };
  function ask(group, action, target) {
    state.pending = { group: group, action: action, target: target };
    $('confirm-title').textContent = action === 'release' ? 'Release the reboot slot of ' + target + '?' : verbs[action] + ' the rollout of ' + target + '?';
    $('confirm-text').textContent = action === 'halt' ? 'No node of group ' + group + ' will take a reboot slot for ' + target + ' until it is resumed.'
      : action === 'resume' ? 'Nodes of group ' + group + ' may take reboot slots for ' + target + ' again; its failures stay counted.'
      : 'Another node of group ' + group + ' may then reboot while ' + target + ' still might.';
    $('confirm-reason-label').hidden = action !== 'halt';
    $('confirm-reason').value = '';
    $('confirm-error').textContent = '';
    $('confirm-ok').textContent = verbs[action] + ' ' + target;
    $('confirm').showModal();
  }
  function send(e) {
    e.preventDefault();
    var p = state.pending;
    if (!p) return;
    var body = { confirm: p.target };
    if (p.action === 'halt') {
      body.reason = $('confirm-reason').value.trim();
      if (!body.reason) { $('confirm-error').textContent = 'Say why the rollout halts.'; return; }
    }
    var path = '/api/v1/groups/' + encodeURIComponent(p.group) + (p.action === 'release' ? '/slots/' : '/rollouts/') + encodeURIComponent(p.target) + '/' + p.action;
    var headers = { 'content-type': 'application/json' };
    var token = sessionStorage.getItem('keel-token');
    if (token) headers.authorization = 'Bearer ' + token;
    $('confirm-ok').disabled = true;
    fetch(path, { method: 'POST', headers: headers, body: JSON.stringify(body) }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.ok) { state.pending = null; $('confirm').close(); return; }
        $('confirm-error').textContent = (res.status === 401 ? 'Not signed in: set the operator token (top right). ' : res.status === 403 ? 'Refused: ' : 'Failed: ') + (data.value || res.status);
      });
    }).catch(function (err) { $('confirm-error').textContent = 'The server did not answer: ' + err.message; })
      .then(function () { $('confirm-ok').disabled = false; });
  }

  $('confirm-form').addEventListener('submit', send);
  $('confirm-cancel').addEventListener('click', function () { state.pending = null; $('confirm').close(); });
  $('token').value = sessionStorage.getItem('keel-token') || '';
  $('token-save').addEventListener('click', function () { sessionStorage.setItem('keel-token', $('token').value.trim()); $('operator').open = false; });
  setInterval(render, 5000);
  connect();
})();
`;
