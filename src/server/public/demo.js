// The demo page: the browser's native EventSource on /v1/stream/<topic>, with bookkeeping that shows
// the resume is exact. Plain JavaScript, no build step. `window.kafkaSseDemo` is read by the browser test.
const ROW_LIMIT = 50;
const params = new URLSearchParams(location.search);
const topic = params.get('topic') || 'demo';
// Names this page's streams, so "Drop my connection" cuts only this tab's connection.
const clientId = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
// A server started with --jwt-secret/--jwks-url needs a token; EventSource cannot send headers, so the
// page passes on an `access_token` from its own address.
const token = params.get('access_token');
const streamUrl =
  `/v1/stream/${encodeURIComponent(topic)}?client=${encodeURIComponent(clientId)}` +
  (token ? `&access_token=${encodeURIComponent(token)}` : '');

const state = {
  topic,
  clientId,
  connection: 'connecting',
  opens: 0,
  reconnects: 0,
  events: 0,
  duplicates: 0,
  gaps: 0,
  lastEventId: '',
  /** partition → { events, lastOffset, nextOffset, duplicates, gaps } */
  partitions: {},
  /** `${partition}:${offset}` of every event, in arrival order (bounded). */
  seen: [],
  errors: [],
};
window.kafkaSseDemo = state;

const $ = (id) => document.getElementById(id);
$('topic').textContent = topic;
$('stream-url').textContent = streamUrl.split('?')[0];
$('row-limit').textContent = String(ROW_LIMIT);

function setConnection(value) {
  state.connection = value;
  const el = $('state');
  el.textContent = value;
  el.dataset.state = value;
  el.className = `state state-${value}`;
}

function render() {
  $('events').textContent = String(state.events);
  $('reconnects').textContent = String(state.reconnects);
  for (const key of ['duplicates', 'gaps']) {
    $(key).textContent = String(state[key]);
    $(key).className = `value ${state[key] === 0 ? 'good' : 'bad'}`;
  }
  $('last-event-id').textContent = state.lastEventId ? formatId(state.lastEventId) : '(none yet)';
  const body = $('partitions').tBodies[0];
  body.replaceChildren(
    ...Object.entries(state.partitions)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([partition, p]) => row([partition, p.events, p.lastOffset, p.duplicates, p.gaps])),
  );
}

/** `[{"topic":"demo","partition":0,"offset":12},…]` → `demo/0 @ 12 · demo/1 @ 9` */
function formatId(id) {
  try {
    return JSON.parse(id)
      .map((p) => `${p.topic}/${p.partition} @ ${p.offset ?? `t=${p.timestamp}`}`)
      .join('  ·  ');
  } catch {
    return id;
  }
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    td.textContent = String(cell);
    tr.append(td);
  }
  return tr;
}

/** A one-line summary of a demo event (or of any JSON object). */
function describe(message) {
  const { _kafka, ...fields } = message;
  if (fields.type && fields.user) {
    const money = fields.amount !== undefined ? ` ${fields.amount.toFixed?.(2) ?? fields.amount} ${fields.currency ?? ''}` : '';
    const what = fields.orderId ?? fields.page ?? fields.sku ?? '';
    return `${fields.type} · ${fields.user}${what ? ` · ${what}` : ''}${money}`;
  }
  return JSON.stringify(fields).slice(0, 160);
}

/** Counts an event against the offsets already seen on its partition: exactly once, no gaps. */
function track(partition, offset) {
  const p = (state.partitions[partition] ??= { events: 0, lastOffset: null, nextOffset: null, duplicates: 0, gaps: 0 });
  p.events++;
  state.events++;
  if (p.nextOffset !== null && offset < p.nextOffset) {
    p.duplicates++;
    state.duplicates++;
  } else if (p.nextOffset !== null && offset > p.nextOffset) {
    p.gaps += offset - p.nextOffset;
    state.gaps += offset - p.nextOffset;
  }
  if (p.nextOffset === null || offset >= p.nextOffset) p.nextOffset = offset + 1;
  p.lastOffset = offset;
  if (state.seen.length < 200_000) state.seen.push(`${partition}:${offset}`);
}

const source = new EventSource(streamUrl);

source.addEventListener('open', () => {
  state.opens++;
  if (state.opens > 1) state.reconnects++;
  setConnection('open');
  render();
});

source.addEventListener('message', (event) => {
  const message = JSON.parse(event.data);
  const meta = message._kafka ?? {};
  state.lastEventId = event.lastEventId;
  track(meta.partition, meta.offset);
  const body = $('events-table').tBodies[0];
  const time = new Date(meta.timestamp ?? Date.now()).toLocaleTimeString();
  body.prepend(row([time, meta.partition, meta.offset, meta.key ?? '', describe(message)]));
  while (body.rows.length > ROW_LIMIT) body.deleteRow(-1);
  render();
});

// Both a network error (the browser then reconnects by itself) and an SSE `error` event from the server.
source.addEventListener('error', (event) => {
  if (event.data) state.errors.push(event.data);
  setConnection(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
});

$('drop').addEventListener('click', async () => {
  const result = $('drop-result');
  result.textContent = 'dropping…';
  try {
    const response = await fetch(`/demo/drop?client=${encodeURIComponent(clientId)}`, { method: 'POST' });
    const body = await response.json();
    result.textContent = response.ok
      ? `dropped ${body.dropped} connection${body.dropped === 1 ? '' : 's'}; the browser reconnects by itself`
      : response.status === 404
        ? 'this server runs without --demo, so it has no drop route'
        : body.message;
  } catch (err) {
    result.textContent = String(err);
  }
});

render();
