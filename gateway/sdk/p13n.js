/*!
 * p13n.js — browser SDK for p13n real-time personalization. No dependencies, no build step.
 *
 * Load it as a classic script; it defines `window.p13n`:
 *
 *   <script src="/sdk/p13n.js"></script>
 *   <script>
 *     const client = p13n.init({
 *       endpoint: 'https://p13n.example.com',   // the gateway's data-plane origin (+ base path)
 *       token: '12345/3/p13n_pub_...',          // a PUBLIC token; never a private one
 *       database: 'shop_db', table: 'events',
 *       prehide: ['#hero'],                     // hidden until the answer (or timeout) arrives
 *     });
 *     client.send({ product_name: 'tank-top' }, { fallback: {} }).then(({ offers }) => {
 *       client.render('#hero', offers['Welcome Banner'], '<h2>{{welcome_message}}</h2>');
 *     });
 *   </script>
 *
 * API
 *   p13n.init(options) -> Client
 *     options: endpoint, token, database, table (required); timeoutMs = 1000;
 *     prehide: a CSS selector or an array of them;
 *     storage: 'auto' | 'local' | 'cookie' | 'memory' | a Storage (see InitOptions below).
 *     Never throws: a bad option is logged once with console.error, nothing is hidden, and
 *     every send() of that client falls back with reason 'config'.
 *   client.send(fields, { fallback = {}, table, timeoutMs }) -> Promise<Result>
 *     POSTs `fields` plus td_client_id, td_url (location.href) and td_path (location.pathname)
 *     to `${endpoint}/public/${database}/${table}`. Caller fields win over those three (an SPA
 *     can send its virtual path; a site with PII in query strings can send a cleaned td_url).
 *     The promise never rejects. It resolves to { ok, offers, reason, status, message }:
 *       ok: true  -> offers is the server's `offers` object, reason is null.
 *       ok: false -> offers is exactly the caller's `fallback`, and reason is one of
 *         'config'    init or send options are invalid (message says which);
 *         'fields'    `fields` is not a plain object or cannot be serialised as JSON;
 *         'timeout'   no complete answer within timeoutMs (the request is aborted);
 *         'network'   the request failed. A CORS refusal (bad token, origin not allowed:
 *                     the server answers 4xx without CORS headers) looks exactly like this
 *                     to page code; browsers do not let scripts tell the two apart;
 *         'http'      a non-2xx answer the page may read; message is the server's message;
 *         'malformed' a 2xx answer that is not {"offers": {...}};
 *         'error'     an unexpected exception inside the SDK (a bug; please report it).
 *       status is the HTTP status, or 0 when there was no readable answer.
 *   client.ready -> Promise<Result>: settles with the result of this client's first send().
 *   client.clientId -> string: the visitor's td_client_id (UUID v4).
 *   client.render(target, section, template) -> boolean
 *     Fills `target` (an Element or a selector) with `template` rendered against
 *     section.attributes. A redacted ({}) or missing section renders nothing and returns
 *     false, so the element keeps its fallback markup. Template syntax (a Mustache subset):
 *       {{name}}                  the attribute, HTML-escaped; dotted paths reach into objects
 *       {{#name}}...{{/name}}     repeated per item of an array ({{.}} is the item, {{field}}
 *                                 a field of an object item); once for any other truthy value;
 *                                 not at all for false, null, 0, '' or []
 *     There is no unescaped output. Escaping makes values safe in text and in QUOTED attribute
 *     values only: never put {{...}} inside href/src (javascript: URLs), on* handlers,
 *     <script> or <style>. Same-named sections cannot nest.
 *
 * Pre-hiding: the selectors get `visibility:hidden!important` synchronously in init() (keeping
 * layout, so nothing jumps) through a constructed stylesheet, which a strict style-src CSP
 * allows. They are revealed when any send() settles, however it ends, and at the latest
 * timeoutMs + 500 ms after init() even if send() is never called. Render in the promise's own
 * callback (without awaiting anything else first) so that reveal and render share one frame.
 *
 * Content-Security-Policy: connect-src must allow the endpoint. Under Trusted Types, allow the
 * policy name `p13n` (render() uses it; without it render() returns false and changes nothing).
 */
(function () {
  'use strict';

  const VERSION = '0.1.0';
  const STORAGE_KEY = 'p13n_td_client_id';
  const COOKIE_MAX_AGE_S = 365 * 24 * 3600;
  // The safety reveal must not beat a send() issued right after init(), whose own timer
  // fires at timeoutMs; the margin covers that gap, nothing more.
  const PREHIDE_MARGIN_MS = 500;
  const UUID_V4_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  // The server's rule (docs/design.md#names), so a typo is reported here rather than as a 404.
  // ('v1' is reserved too, but already too short.)
  const NAME_RE = /^[a-z0-9_]{3,128}$/;
  const RESERVED_NAMES = ['public', 'records'];
  // Three parts of printable ASCII: a header value cannot carry anything else.
  const TOKEN_RE = /^[\x21-\x2e\x30-\x7e]+\/[\x21-\x2e\x30-\x7e]+\/[\x21-\x2e\x30-\x7e]+$/;

  /**
   * @typedef {object} InitOptions
   * @property {string} endpoint  Data-plane base URL, absolute or relative to the page.
   * @property {string} token  Public token `<account_id>/<reactor_id>/<secret>`.
   * @property {string} database  Event database name.
   * @property {string} table  Default event table name.
   * @property {number} [timeoutMs=1000]  Budget for one send(), from call to parsed answer.
   * @property {string|string[]} [prehide]  Selectors hidden until the first answer or timeout.
   * @property {'auto'|'local'|'cookie'|'memory'|Storage} [storage='auto']  Where td_client_id
   *   persists: 'auto' tries localStorage, then a first-party cookie, then memory (one page
   *   view). 'memory' persists nothing (e.g. before consent). A Storage (sessionStorage, or
   *   any {getItem, setItem}) is used as given.
   */
  /**
   * @typedef {object} SendOptions
   * @property {*} [fallback={}]  Resolved as `offers` whenever the call does not succeed.
   * @property {string} [table]  Overrides the client's table for this call.
   * @property {number} [timeoutMs]  Overrides the client's timeout for this call.
   */
  /**
   * @typedef {object} Result
   * @property {boolean} ok  True only for a 2xx answer carrying a valid offers object.
   * @property {object|*} offers  The server's offers when ok, else the caller's fallback.
   * @property {?string} reason  Null when ok; else why it fell back (see the header).
   * @property {number} status  HTTP status, or 0 when no answer could be read.
   * @property {string} message  Empty when ok; else a message a developer can act on.
   */
  /**
   * @typedef {object} Client
   * @property {string} clientId
   * @property {Promise<Result>} ready
   * @property {function(object=, SendOptions=): Promise<Result>} send
   * @property {function((Element|string), *, string): boolean} render
   */

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
  // setTimeout treats anything above 2^31-1 ms as 0, which would time out at once.
  const duration = (v, dflt) =>
    typeof v === 'number' && v > 0 && Number.isFinite(v) ? Math.min(v, 0x7fffffff) : dflt;
  const attempt = (fn) => {
    try {
      return fn();
    } catch (_) {
      return undefined; // blocked storage, CSP, exotic hosts: the caller has a fallback
    }
  };
  const warn = (msg) => attempt(() => console.warn(`p13n: ${msg}`));

  // ---- visitor id ---------------------------------------------------------------------

  function uuid4() {
    const c = globalThis.crypto;
    // randomUUID exists only in secure contexts; getRandomValues everywhere else.
    if (c && typeof c.randomUUID === 'function') return c.randomUUID();
    const b = new Uint8Array(16);
    if (c && typeof c.getRandomValues === 'function') c.getRandomValues(b);
    // Weak, but never a constant: one shared id would stitch every visitor into one profile.
    else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join('-');
  }

  const localBackend = {
    get: () => globalThis.localStorage.getItem(STORAGE_KEY),
    set: (v) => globalThis.localStorage.setItem(STORAGE_KEY, v),
  };
  const cookieBackend = {
    get: () => {
      const m = document.cookie.match(new RegExp(`(?:^|;\\s*)${STORAGE_KEY}=([^;]*)`));
      return m ? m[1] : null;
    },
    set: (v) => {
      const secure = globalThis.location.protocol === 'https:' ? '; Secure' : '';
      document.cookie =
        `${STORAGE_KEY}=${v}; Max-Age=${COOKIE_MAX_AGE_S}; Path=/; SameSite=Lax${secure}`;
    },
  };

  function backendsFor(storage) {
    if (storage === 'memory') return [];
    if (storage === 'local') return [localBackend];
    if (storage === 'cookie') return [cookieBackend];
    if (storage && typeof storage.getItem === 'function' && typeof storage.setItem === 'function') {
      return [
        { get: () => storage.getItem(STORAGE_KEY), set: (v) => storage.setItem(STORAGE_KEY, v) },
      ];
    }
    return [localBackend, cookieBackend];
  }

  function loadClientId(storage) {
    const backends = backendsFor(storage);
    for (const b of backends) {
      const v = attempt(b.get);
      // Anything else (tampering, another library's format) is replaced, not sent.
      if (typeof v === 'string' && UUID_V4_RE.test(v)) return v;
    }
    const id = uuid4();
    // Read back: disabled cookies and some private modes drop writes without throwing.
    const kept = (b) => attempt(() => {
      b.set(id);
      return b.get() === id;
    });
    for (const b of backends) if (kept(b)) break;
    return id;
  }

  // ---- pre-hiding ---------------------------------------------------------------------

  function attachSheet() {
    try {
      // A constructed sheet is not "inline style", so a strict style-src CSP allows it.
      const sheet = new CSSStyleSheet();
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
      return {
        sheet,
        detach: () => {
          document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
        },
      };
    } catch (_) {
      // Older engines (Safari < 16.4); blocked under a strict CSP, where we simply don't hide.
      const style = document.createElement('style');
      (document.head || document.documentElement).appendChild(style);
      return { sheet: style.sheet, detach: () => style.remove() };
    }
  }

  /** Hides `selectors` now; returns the function that reveals them (idempotent). */
  function prehide(selectors) {
    const attached = attempt(attachSheet);
    if (!attached) return () => {};
    if (!attached.sheet) {
      attempt(attached.detach);
      return () => {};
    }
    for (const sel of selectors) {
      // insertRule parses exactly one rule, so a bad selector fails alone instead of
      // breaking (or, with a stray "}" or "/*", escaping) the others.
      const rule = () => attached.sheet.insertRule(`${sel}{visibility:hidden!important}`);
      if (typeof sel !== 'string' || attempt(rule) === undefined) {
        warn(`prehide ignores ${typeof sel === 'string' ? sel : typeof sel}: not a CSS selector`);
      }
    }
    let revealed = false;
    return () => {
      if (!revealed) {
        revealed = true;
        attempt(attached.detach);
      }
    };
  }

  // ---- template rendering -------------------------------------------------------------

  const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
  const NAME = '[^{}#/\\s](?:[^{}]*[^{}\\s])?';
  // One pass over the template: substituted values are never re-scanned, so data that
  // contains "{{...}}" stays data.
  const TAG_RE = new RegExp(
    // {{#name}}inner{{/name}}, or {{name}}
    `\\{\\{#\\s*(${NAME})\\s*\\}\\}([\\s\\S]*?)\\{\\{/\\s*\\1\\s*\\}\\}` +
      `|\\{\\{\\s*(${NAME})\\s*\\}\\}`,
    'g',
  );

  // Innermost context first, as in Mustache. Own properties only: `{{constructor}}` must
  // not reach into prototypes.
  function lookup(name, stack) {
    if (name === '.') return stack[0];
    for (const ctx of stack) {
      if (!isObject(ctx)) continue;
      if (hasOwn(ctx, name)) return ctx[name];
      const path = name.split('.');
      if (path.length > 1 && hasOwn(ctx, path[0])) {
        return path.reduce((v, k) => (isObject(v) && hasOwn(v, k) ? v[k] : undefined), ctx);
      }
    }
    return undefined;
  }

  function format(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (Array.isArray(v)) return v.map(format).join(', ');
    return '';
  }

  function renderTemplate(template, stack) {
    // replace() collects every match before the first callback, so recursing with the same
    // global regex (and its lastIndex) is safe.
    return template.replace(TAG_RE, (_, section, inner, name) => {
      if (name !== undefined) return escapeHtml(format(lookup(name, stack)));
      const v = lookup(section, stack);
      if (Array.isArray(v)) return v.map((it) => renderTemplate(inner, [it, ...stack])).join('');
      return v ? renderTemplate(inner, [v, ...stack]) : '';
    });
  }

  let htmlPolicy; // undefined: not yet tried; null: Trusted Types absent or policy refused
  function trustedHtml(html) {
    if (htmlPolicy === undefined) {
      // Pages enforcing Trusted Types reject plain strings in innerHTML. The policy is a
      // pass-through because its only input is renderTemplate's output, whose data is
      // escaped; it stays private to this closure so no other code can use it.
      const create = () => globalThis.trustedTypes.createPolicy('p13n', { createHTML: (s) => s });
      htmlPolicy = attempt(create) || null;
    }
    return htmlPolicy ? htmlPolicy.createHTML(html) : html;
  }

  /**
   * Renders `template` against `section.attributes` into `target`.
   * @param {Element|string} target  The element, or a selector for the first match.
   * @param {*} section  One entry of `offers`, e.g. `offers['Welcome Banner']`.
   * @param {string} template  Trusted markup written by the site, with {{...}} tags.
   * @returns {boolean} Whether the element's content was replaced.
   */
  function render(target, section, template) {
    try {
      const el = typeof target === 'string' ? document.querySelector(target) : target;
      if (!el || el.nodeType !== Node.ELEMENT_NODE || typeof template !== 'string') return false;
      // A redacted section is `{}`: no attributes key at all. Keep the fallback markup.
      if (!isObject(section) || !isObject(section.attributes)) return false;
      el.innerHTML = trustedHtml(renderTemplate(template, [section.attributes]));
      return true;
    } catch (_) {
      return false; // invalid selector, or a Trusted Types policy the page does not allow
    }
  }

  // ---- sending ------------------------------------------------------------------------

  function validate(o) {
    if (typeof o.endpoint !== 'string' || o.endpoint === '') return 'endpoint is required';
    const url = attempt(() => new URL(o.endpoint, globalThis.location.href));
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      return `endpoint ${JSON.stringify(o.endpoint)} is not an http(s) URL`;
    }
    if (typeof o.token !== 'string' || !TOKEN_RE.test(o.token)) {
      return 'token must look like <account_id>/<reactor_id>/<secret> (a public token)';
    }
    return checkName('database', o.database) || checkName('table', o.table);
  }

  function checkName(what, v) {
    if (typeof v === 'string' && NAME_RE.test(v) && !RESERVED_NAMES.includes(v)) return '';
    const reserved = RESERVED_NAMES.join(', ');
    return `${what} ${JSON.stringify(v)} must match ${NAME_RE} and not be one of ${reserved}`;
  }

  const failure = (offers, reason, status, message) => ({
    ok: false,
    offers,
    reason,
    status,
    message,
  });

  async function post(cfg, fields, opts, fallback) {
    try {
      const table = opts.table === undefined ? cfg.table : opts.table;
      const problem = cfg.problem || checkName('table', table);
      if (problem) return failure(fallback, 'config', 0, problem);
      if (fields != null && !isObject(fields)) {
        return failure(fallback, 'fields', 0, 'fields must be a plain object');
      }
      const defaults = {
        td_client_id: cfg.clientId,
        td_url: globalThis.location.href,
        td_path: globalThis.location.pathname,
      };
      // Spread defines own properties, so a "__proto__" key in fields stays a field.
      const event = { ...defaults, ...fields };
      for (const k of Object.keys(defaults)) if (event[k] === undefined) event[k] = defaults[k];
      let body;
      try {
        body = JSON.stringify(event);
      } catch (e) {
        return failure(fallback, 'fields', 0, `fields cannot be serialised as JSON: ${e.message}`);
      }

      const timeoutMs = duration(opts.timeoutMs, cfg.timeoutMs);
      const controller = new AbortController();
      let timer;
      // The timer settles the call by itself and also bounds reading the body, which a
      // stalled connection could otherwise hold open after the headers arrived.
      const timedOut = new Promise((resolve) => {
        timer = setTimeout(() => {
          controller.abort();
          resolve(failure(fallback, 'timeout', 0, `no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      });
      const url = `${cfg.base}/public/${cfg.database}/${table}`;
      const answered = exchange(url, cfg.token, body, controller.signal, fallback);
      try {
        return await Promise.race([answered, timedOut]);
      } finally {
        clearTimeout(timer);
      }
    } catch (e) {
      return failure(fallback, 'error', 0, String((e && e.message) || e));
    }
  }

  async function exchange(url, token, body, signal, fallback) {
    let res;
    let text;
    try {
      res = await fetch(url, {
        method: 'POST',
        mode: 'cors',
        // The token is the credential; the p13n host's cookies must never ride along.
        credentials: 'omit',
        headers: { 'Content-Type': 'application/json', 'WP13n-Token': token },
        body,
        signal,
      });
      text = await res.text();
    } catch (_) {
      if (res) return failure(fallback, 'network', res.status, 'connection lost during the answer');
      return failure(fallback, 'network', 0, 'request failed: network error, or refused without ' +
        "CORS headers (check the token and the service's allowed origins)");
    }
    const data = attempt(() => JSON.parse(text));
    if (!res.ok) {
      const msg = isObject(data) && typeof data.message === 'string' && data.message;
      return failure(fallback, 'http', res.status, msg || `HTTP ${res.status}`);
    }
    if (!isObject(data)) {
      return failure(fallback, 'malformed', res.status, 'answer is not a JSON object');
    }
    // proto3 JSON may omit an empty map, so an absent (or null) offers means "no offers".
    const offers = data.offers == null ? {} : data.offers;
    if (!isObject(offers)) {
      return failure(fallback, 'malformed', res.status, '"offers" is not a JSON object');
    }
    return { ok: true, offers, reason: null, status: res.status, message: '' };
  }

  /**
   * Creates a client. Never throws; see the header for what a bad option does.
   * @param {InitOptions} options
   * @returns {Client}
   */
  function init(options) {
    // One read of the caller's object; everything after works on this plain copy.
    const o = attempt(() => (isObject(options) ? { ...options } : {})) || {};
    const problem = attempt(() => validate(o)) ?? 'options are not valid';
    if (problem) {
      attempt(() => console.error(`p13n: ${problem}; every send() will resolve to its fallback`));
    }
    const timeoutMs = duration(o.timeoutMs, 1000);

    let reveal = () => {};
    const selectors = typeof o.prehide === 'string' ? [o.prehide] : o.prehide;
    if (!problem && Array.isArray(selectors) && selectors.length > 0) {
      const unhide = prehide(selectors);
      const safety = setTimeout(unhide, Math.min(timeoutMs + PREHIDE_MARGIN_MS, 0x7fffffff));
      reveal = () => {
        clearTimeout(safety);
        unhide();
      };
    }

    const url = problem ? null : new URL(o.endpoint, globalThis.location.href);
    const cfg = {
      problem,
      // Query and fragment of the endpoint are dropped; a base path is kept.
      base: url ? url.origin + url.pathname.replace(/\/+$/, '') : '',
      token: o.token,
      database: o.database,
      table: o.table,
      timeoutMs,
      clientId: attempt(() => loadClientId(o.storage)) || uuid4(),
    };

    let settleReady;
    const ready = new Promise((resolve) => {
      settleReady = resolve;
    });

    /**
     * Sends one event and resolves with the offers; never rejects.
     * @param {object} [fields]  Event fields; td_client_id, td_url, td_path are added.
     * @param {SendOptions} [sendOptions]
     * @returns {Promise<Result>}
     */
    function send(fields, sendOptions) {
      const opts = isObject(sendOptions) ? sendOptions : {};
      const given = attempt(() => opts.fallback);
      const fallback = given === undefined ? {} : given;
      return post(cfg, fields, opts, fallback).then((result) => {
        reveal();
        settleReady(result);
        return result;
      });
    }

    return Object.freeze({ clientId: cfg.clientId, ready, send, render });
  }

  globalThis.p13n = Object.freeze({ version: VERSION, init });
})();
