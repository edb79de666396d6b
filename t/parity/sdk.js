#!/usr/bin/env node
/*
 * What mixpanel-browser (the real package, pinned in t/parity/package.json,
 * installed by tools/install-mixpanel-browser) computes for a request, for
 * the parity tests: t/082-sdk-parity.t compares it with the module's events,
 * t/080-user-agent-unit.t with the User-Agent parser.
 *
 *   node t/parity/sdk.js < cases.jsonl > expected.jsonl
 *
 * A case is {"id", "ua", "url", "referrer", "navigation", "navigate"}: the
 * User-Agent, the page's URL, the Referer header, and whether the request is a
 * navigation.  The answer is {"id", "blocked", "fields"}: whether the SDK's
 * crawler list blocks the User-Agent, and every property the module must
 * send alike, with what the SDK leaves out (an empty string, the null
 * $browser_version: Mixpanel shows null as "(not set)", like a missing
 * property) left out.
 *
 * The SDK runs in a node vm context with a stub window, as in a browser:
 * it reads navigator.userAgent once, when it loads (_.info.os() takes no
 * argument), so each User-Agent gets a context of its own.  Its browser
 * rules also read navigator.vendor and window.opera, which a request does
 * not carry: they are set to what the browser that sends this User-Agent
 * reports (vendor() and opera() below, docs/properties.md).
 *
 * User-Agents that do not begin with "Mozilla/" or "Opera/" are apps' HTTP
 * stacks and libraries, where no browser SDK runs: their fields are those
 * the mobile SDKs send (native() below), not the browser SDK's.
 */

'use strict';

const fs = require('fs');
const path = require('path');
const vm = require('vm');

const LIB = path.join(process.env.MIXPANEL_BROWSER_DIR
                      || path.join(__dirname, '../../build/mixpanel-browser'),
                      'node_modules/mixpanel-browser/dist/mixpanel.cjs.js');
const script = new vm.Script(fs.readFileSync(LIB, 'utf8'), { filename: LIB });

/*
 * navigator.vendor: "Google Inc." in Chromium (whose User-Agents all say
 * "Chrome") and in Android's own WebKit; "Apple Computer, Inc." in every
 * other WebKit (WebCore's NavigatorBase default: Safari, every iOS browser
 * and in-app view, Epiphany); "" in Gecko and Trident.
 */
function vendor(ua) {
  if (ua.includes('Chrome') || ua.includes('Android')) {
    return 'Google Inc.';
  }
  if (ua.includes('AppleWebKit')) {
    return 'Apple Computer, Inc.';
  }
  return '';
}

/*
 * window.opera: Presto Opera, and Opera Mini, whose pages run on Presto;
 * they say "Opera/", "Presto/", "Opera Mini", or "Opera 9.51" when they
 * pose as another browser.
 */
function opera(ua) {
  return ua.startsWith('Opera/') || ua.includes('Presto/')
         || ua.includes('Opera Mini') || /Opera \d/.test(ua);
}

/*
 * Native clients: no $browser, $browser_version or $device (mixpanel-android
 * and mixpanel-swift send none); $os as they name it, when the User-Agent
 * tells: "Android", "iOS", "macOS" (a Darwin User-Agent with the Mac's
 * architecture, or one that names macOS).
 */
function native(ua) {
  if (/Android/.test(ua)) {
    return { $os: 'Android' };
  }
  if (/iPhone|iPad|iPod|iOS/.test(ua)) {
    return { $os: 'iOS' };
  }
  if (/macOS|Mac OS X|Macintosh/.test(ua)
      || (/Darwin\/|CFNetwork\//.test(ua)
          && /\((x86_64|arm64|i386)\)/.test(ua))) {
    return { $os: 'macOS' };
  }
  return {};
}

function context(ua) {
  const noop = function () {};
  const location = { href: 'http://localhost/', hostname: 'localhost',
                     pathname: '/', protocol: 'http:', search: '', hash: '',
                     host: 'localhost' };
  const document = {
    URL: location.href, referrer: '', title: '', cookie: '',
    readyState: 'loading', location: location,
    addEventListener: noop, removeEventListener: noop,
    createElement: function () { return { style: {} }; },
    getElementsByTagName: function () { return []; },
    querySelectorAll: function () { return []; },
  };
  const sandbox = {
    navigator: { userAgent: ua, vendor: vendor(ua), onLine: true },
    document: document, location: location,
    screen: { width: 1920, height: 1080 },
    console: { log: noop, error: noop, warn: noop },
    setTimeout, clearTimeout, setInterval, clearInterval, Promise, Date,
    Math, JSON, URL,
    addEventListener: noop, removeEventListener: noop, dispatchEvent: noop,
    CustomEvent: function () {},
    crypto: require('crypto').webcrypto,
    module: { exports: {} },
  };
  if (opera(ua)) {
    sandbox.opera = {};
  }
  sandbox.window = sandbox;
  sandbox.self = sandbox;
  sandbox.exports = sandbox.module.exports;
  script.runInContext(vm.createContext(sandbox));
  const mixpanel = sandbox.module.exports;
  mixpanel.init('parity', { persistence: 'cookie', batch_requests: false });
  return { _: mixpanel._, sandbox: sandbox };
}

function kept(fields) {
  const out = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v !== null && v !== undefined && v !== '') {
      out[k] = v;
    }
  }
  return out;
}

function compute(ctx, c) {
  const _ = ctx._;
  const sb = ctx.sandbox;
  const ua = sb.navigator.userAgent;
  let fields;

  if (/^(Mozilla|Opera)\//.test(ua)) {
    fields = {
      $browser: _.info.browser(ua, sb.navigator.vendor, sb.opera),
      $browser_version: _.info.browserVersion(ua, sb.navigator.vendor,
                                              sb.opera),
      $os: _.info.os(),
      $device: _.info.device(ua),
    };
  } else {
    fields = native(ua);
  }

  /*
   * The campaign keys and click ids of the request's URL; for a call a
   * page makes whose URL has none, those of the page (its Referer), the
   * SDK's document.URL there
   */

  const referrer = c.referrer || '';

  sb.document.URL = c.url;
  let marketing = Object.assign({}, _.info.campaignParams(),
                                _.info.clickParams());

  if (!c.navigation && referrer !== '' && Object.keys(marketing).length === 0) {
    sb.document.URL = referrer;
    marketing = Object.assign({}, _.info.campaignParams(),
                              _.info.clickParams());
  }

  Object.assign(fields, marketing);

  /*
   * A navigation: the Referer is the page's document.referrer.  A call a
   * page makes: the Referer is that page, location.href.
   */

  if (c.navigation) {
    sb.document.referrer = referrer;
    const props = _.info.properties();
    fields.$referrer = props.$referrer;
    fields.$referring_domain = props.$referring_domain;
    Object.assign(fields, _.info.searchInfo(referrer));
  } else if (referrer !== '') {
    sb.location.href = referrer;
    fields.$current_url = _.info.currentUrl();
  }

  /*
   * A navigation the browser says is one (Sec-Fetch-Mode: navigate)
   * loads the request's URL: location.href
   */

  if (c.navigate) {
    sb.location.href = c.url;
    fields.$current_url = _.info.currentUrl();
  }

  return { id: c.id, blocked: _.isBlockedUA(ua), fields: kept(fields) };
}

const cases = fs.readFileSync(0, 'utf8').split('\n').filter((l) => l.trim())
  .map((l) => JSON.parse(l));
const byUa = new Map();

for (const c of cases) {
  const ua = c.ua || '';
  if (!byUa.has(ua)) {
    byUa.set(ua, []);
  }
  byUa.get(ua).push(c);
}

/* one context at a time: each holds a whole copy of the SDK */

for (const [ua, group] of byUa) {
  const ctx = context(ua);
  for (const c of group) {
    process.stdout.write(JSON.stringify(compute(ctx, c)) + '\n');
  }
}
