// Preload for the test LRS (npm xapi-statements 5.0.1, memory models):
//   node -r ./preload.js node_modules/xapi-statements/dist/index.js
// Our own code. It changes four things the service gets wrong for CI (see docs/xapi.md):
//  1. it listens on every interface: bind port-only listen() calls to 127.0.0.1;
//  2. its in-memory paging cursor is uuid.v1(), whose first field wraps every ~7 minutes, so
//     paging across a wrap drops statements: hand out ids that sort by insertion instead;
//  3. its `more` links are not URL-encoded (agent filters break, IRIs with & or # are cut):
//     rebuild them with every value encoded;
//  4. it compares `since`/`until` to `stored` as strings: normalise both to UTC ISO strings
//     with milliseconds and a Z, the form `stored` has.
'use strict';

const net = require('net');
const path = require('path');

// 1. Loopback only.
const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function listen(...args) {
  const portOnly =
    (typeof args[0] === 'number' || typeof args[0] === 'string') &&
    (args.length === 1 || typeof args[1] === 'function');
  if (portOnly) {
    args.splice(1, 0, '127.0.0.1');
  }
  return originalListen.apply(this, args);
};

const dist = path.dirname(require.resolve('xapi-statements/dist/index.js'));
const fromDist = (relative) => require(path.join(dist, relative));

// 2. Insertion-ordered ids for the memory repo's paging cursor. Resolve `uuid` the way the
// repo module does, so we patch the very object it calls.
const repoDir = path.join(dist, 'repo', 'modelsRepo', 'createStatements');
const uuid = require(require.resolve('uuid', { paths: [repoDir] }));
const startedAt = Date.now().toString(16).padStart(12, '0');
let counter = 0;
uuid.v1 = function sortableId() {
  counter += 1;
  return `${startedAt}-${counter.toString(16).padStart(12, '0')}`;
};

// 3. Encoded `more` links.
const moreLinkModule = fromDist('expressPresenter/utils/getStatements/getMoreLink');
const MORE_LINK_KEYS = [
  'agent', 'activity', 'verb', 'related_agents', 'related_activities', 'registration',
  'since', 'until', 'ascending', 'limit', 'skip',
];
const RESULT_KEYS = ['format', 'attachments', 'langs'];
moreLinkModule.default = function encodedMoreLink(opts) {
  if (opts.results.cursor === undefined) {
    return '';
  }
  const pairs = [];
  const add = (key, value) => {
    if (value === undefined) return;
    const text = key === 'agent' || (typeof value === 'object' && value !== null)
      ? JSON.stringify(value)
      : String(value);
    pairs.push(`${encodeURIComponent(key)}=${encodeURIComponent(text)}`);
  };
  MORE_LINK_KEYS.forEach((key) => add(key, opts.statementsOpts[key]));
  RESULT_KEYS.forEach((key) => add(key, opts.resultOpts[key]));
  add('cursor', opts.results.cursor);
  return `${opts.urlPath}?${pairs.join('&')}`;
};

// 4. since/until as UTC ISO strings with milliseconds (sub-millisecond digits are dropped,
// which is exact because `stored` has millisecond precision).
const optionsModule = fromDist('expressPresenter/utils/getStatements/getStatementsOptions');
const originalOptions = optionsModule.default;
const normalise = (value) => {
  if (typeof value !== 'string') return value;
  const millis = Date.parse(value);
  return Number.isNaN(millis) ? value : new Date(millis).toISOString();
};
optionsModule.default = function normalisedOptions(queryParams) {
  const opts = originalOptions(queryParams);
  opts.since = normalise(opts.since);
  opts.until = normalise(opts.until);
  return opts;
};
