/*
 * The demo shop's own script: what a customer's site would write around the p13n SDK.
 *
 * It runs in <head>: p13n.init() pre-hides the personalized containers before the body is
 * painted and send() reports the page view at once. Sections are rendered in the answer's
 * own callback when the document is parsed by then (the usual case; reveal and render then
 * share a frame), else as soon as it is.
 *
 * window.shop is for the curious (and the tests): { clientId, done }, where `done` resolves
 * to the SDK's result once the page has been personalized (or has kept its fallbacks).
 */
(function () {
  'use strict';

  const demo = window.P13N_DEMO;
  const MEMBER_KEY = 'p13n_demo_member_id';
  // The section names configured in the demo's personalizations.
  const SECTIONS = {
    welcome: 'Welcome Banner',
    loyalty: 'Loyalty Discount',
    recent: 'Recently Viewed',
    rewards: 'Silver rewards just for you!',
  };
  const TEMPLATES = {
    welcome:
      '<h1>{{welcome_message}}</h1>' +
      '{{#loyalty_member}}<p class="badge">Loyalty member</p>{{/loyalty_member}}',
    // Never rendered on this page: the public path answers this section {} because it
    // references membership_tier, a sensitive imported attribute.
    loyalty:
      '<h2>Loyalty Discount</h2>' +
      '<p>As a {{membership_tier}} member, use code <strong>{{discount_code}}</strong>.</p>',
    recent:
      '<h2>Recently viewed</h2>' +
      '<ol class="recent-list">{{#products}}<li>{{.}}</li>{{/products}}</ol>',
    rewards:
      '<h2>Silver rewards just for you!</h2>' +
      '<p class="promo">{{promotions_message}}</p>' +
      '<p>You have viewed <strong class="views">{{product_views}}</strong> products.</p>' +
      '{{#total_purchase}}<p>Your purchases so far: ${{total_purchase}}</p>{{/total_purchase}}' +
      '<p>{{thank_you_message}}</p>',
  };
  const CONTAINERS = { welcome: '#welcome', loyalty: '#loyalty', recent: '#recently-viewed',
                       rewards: '#rewards' };

  const slug = (location.pathname.match(/^\/products\/([a-z0-9-]+)$/) || [])[1];
  const product = demo.products.find((p) => p.slug === slug);
  const member = readMember();

  const client = p13n.init({
    endpoint: demo.endpoint,
    token: demo.token,
    database: demo.database,
    table: demo.table,
    timeoutMs: demo.timeoutMs,
    prehide: Object.values(CONTAINERS),
  });
  const fields = {};
  if (product) {
    fields.product_name = product.name;
    fields.product_category = product.category;
  }
  if (member) {
    // The proof the shop's server made at sign-in: without it the gateway does not let a
    // browser claim a member id (anyone could type one).
    fields.member_id = member.id;
    fields.p13n_proofs = { member_id: member.proof };
  }

  const parsed = new Promise((resolve) => {
    if (document.readyState !== 'loading') resolve();
    else document.addEventListener('DOMContentLoaded', () => resolve(), { once: true });
  });
  parsed.then(renderPage);

  const done = client.send(fields).then((result) => {
    if (document.readyState !== 'loading') return personalize(result);
    return parsed.then(() => personalize(result));
  });
  window.shop = Object.freeze({ clientId: client.clientId, done });

  function personalize(result) {
    for (const [key, selector] of Object.entries(CONTAINERS)) {
      client.render(selector, result.offers[SECTIONS[key]], TEMPLATES[key]);
    }
    linkProducts(document.querySelectorAll('.recent-list li'));
    document.body.dataset.personalization = result.ok ? 'answered' : 'fallback';
    document.getElementById('received-status').textContent = result.ok
      ? `HTTP ${result.status}: ${Object.keys(result.offers).length} section(s)`
      : `Fallback content shown (${result.reason}): ${result.message}`;
    document.getElementById('received-offers').textContent = JSON.stringify(
      result.offers, null, 2);
    return result;
  }

  function renderPage() {
    document.getElementById('visitor-id').textContent = client.clientId.slice(0, 8);
    document.getElementById('member-state').textContent = member
      ? `· signed in as member ${member.id}` : '· anonymous';
    const button = document.getElementById('sign-in');
    button.textContent = member ? 'Sign out' : 'Sign in as the demo member';
    button.addEventListener('click', () => {
      (member ? Promise.resolve(null) : signIn()).then((signed) => {
        writeMember(signed);
        location.reload();
      });
    });
    if (product) renderProduct(document.getElementById('product'), product);
    const grid = document.getElementById('products');
    for (const p of demo.products) if (p !== product) grid.append(productCard(p));
  }

  function renderProduct(article, p) {
    article.append(
      swatch(p, 'swatch large'),
      element('div', 'details',
        element('h1', '', p.name),
        element('p', 'category', p.category),
        element('p', 'price', `$${p.price}`)),
    );
  }

  function productCard(p) {
    const link = element('a', 'card', swatch(p, 'swatch'), element('span', 'name', p.name),
                         element('span', 'price', `$${p.price}`));
    link.href = `/products/${p.slug}`;
    return element('li', '', link);
  }

  function linkProducts(items) {
    for (const li of items) {
      const p = demo.products.find((x) => x.name === li.textContent);
      if (!p) continue;
      const link = element('a', '', p.name);
      link.href = `/products/${p.slug}`;
      li.replaceChildren(link);
    }
  }

  function swatch(p, className) {
    const tile = element('div', className, p.name.replace(/[^A-Z]/g, '').slice(0, 2));
    tile.style.backgroundColor = p.color;
    return tile;
  }

  // DOM building only (no HTML strings): the page enforces Trusted Types.
  function element(tag, className, ...children) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    el.append(...children);
    return el;
  }

  // Signing in is the shop server's job: it answers the member's id with the proof it made
  // with the service's identity secret (a real site signs whoever its session authenticated).
  function signIn() {
    return fetch('/sign-in', { method: 'POST' })
      .then((reply) => (reply.ok ? reply.json() : null))
      .then((signed) => (signed ? { id: signed.member_id, proof: signed.proof } : null))
      .catch(() => null);
  }

  function readMember() {
    try {
      const stored = JSON.parse(localStorage.getItem(MEMBER_KEY) || 'null');
      return stored && typeof stored.id === 'string' && typeof stored.proof === 'string'
        ? stored : null;
    } catch (_) {
      return null;
    }
  }

  function writeMember(value) {
    try {
      if (value) localStorage.setItem(MEMBER_KEY, JSON.stringify(value));
      else localStorage.removeItem(MEMBER_KEY);
    } catch (_) {
      // Storage blocked: the visitor stays anonymous.
    }
  }
})();
