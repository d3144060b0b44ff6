// Builds the browser bundles of Footage into footage/web/static/build/:
//   footage.js              the recorder that sites include (rrweb's record)
//   player.js, player.css   the dashboard's recording player (rrweb's Replayer)
//   frames.js               draws a recording frame by frame for the MP4 render job
//   dashboard.js            small behaviours of the dashboard pages (confirm, masks preview)
//   chat.js                 the visitor's chat box, served as /footage-chat.js (chat_enabled)
//   conversations.js        the dashboard's conversations: live messages, replies, visitor info
//   heatmap.js              the Heatmaps page: the page as visitors saw it, clicks and scrolling over it
//   api-docs.js             starts Swagger UI on /api/docs, whose swagger-ui-bundle.js and
//                           swagger-ui.css are copied from the pinned swagger-ui-dist package
//
//
// Every file the server sends by URL (these bundles and the stylesheets in footage/web/static/)
// is also compressed here once with brotli at its highest level, which is too slow to do per
// request: `<digest>.br` in the build folder, named by the content's digest, so the server
// (footage/web/assets.py) sends it only for exactly that content. gzip it does itself.
//
//   node build.mjs           one minified build, then the compressed copies
//   node build.mjs --watch   rebuild on every change (no compressed copies: served as gzip)
//   node build.mjs --profile FILE   footage.js alone, not minified, to FILE (functions keep their
//                                   names in a profile: bench/recorder_cost.py)
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import { copyFile, mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { brotliCompressSync, constants as zlib } from 'node:zlib';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const staticdir = path.resolve(here, '../footage/web/static');
const outdir = path.join(staticdir, 'build');
const watch = process.argv.includes('--watch');
// The version of Footage (footage/__init__.py, the one `footage --version` prints), at the top
// of the scripts sites load: an operator can tell which recorder a site runs.
const version = (await readFile(path.resolve(here, '../footage/__init__.py'), 'utf8')).match(/__version__ = "([^"]+)"/)[1];
const banner = { js: `/*! Footage ${version} */` };

/**
 * rrweb ships one ES module with two bundled copies of PostCSS (used only to
 * rebuild CSS while replaying). Three spots in that file keep PostCSS alive
 * even where nothing uses it, which would put ~110 KB of dead code into the
 * recorder. This plugin marks them side-effect free, without changing what
 * the code does:
 *   - `__toESM(( __commonJSMin(…))(), 1)`: the inner module call gets a
 *     @__PURE__ annotation, so the module is dropped when unused;
 *   - `var postcss_default = import_postcss$1.default;` becomes a pure
 *     IIFE returning the same value;
 *   - bare re-export leftovers such as `import_postcss.default.parse;` are
 *     removed (property reads whose value is thrown away).
 */
const slimRrweb = (options = {}) => ({
  name: 'slim-rrweb',
  setup(build) {
    build.onLoad({ filter: /[\\/]rrweb[\\/]dist[\\/]rrweb\.js$/ }, async (args) => {
      let code = await readFile(args.path, 'utf8');
      let changes = 0;
      const swap = (pattern, replacement) => {
        code = code.replace(pattern, (...m) => {
          changes++;
          return typeof replacement === 'function' ? replacement(...m) : replacement;
        });
      };
      swap(/(__toESM(?:\$\d+)?\()(\(\/\* @__PURE__ \*\/ __commonJSMin)/g, (_, call, inner) => `${call}/* @__PURE__ */ ${inner}`);
      swap(/^var postcss_default = import_postcss\$1\.default;$/m, 'var postcss_default = /* @__PURE__ */ (() => import_postcss$1.default)();');
      swap(/^import_postcss(?:\$\d+)?\.default(?:\.\w+)?;$/gm, '');
      const warnings = changes ? [] : [{ text: 'slim-rrweb: no pattern matched; the recorder bundle will be larger' }];
      // rrweb checks that the page has not patched the DOM's prototypes before trusting them
      // (getUntaintedPrototype); if it has, it takes clean ones from a new hidden iframe. It lists
      // Element's querySelector and querySelectorAll as getters, which they are not, so Element
      // always counts as patched: every copy of that check in rrweb's bundle adds an iframe to
      // the page, once, while the full snapshot is taken (6 ms each on a 5,000-element page).
      // Here they are checked as the methods they are: a page that did patch them still gets
      // the iframe. (The same fix is proposed to rrweb as its pull request 1802.)
      let untainted = 0;
      code = code.replace(
        /(var testableAccessors(?:\$\d+)? = \{[^}]*?Element: \[)\s*"shadowRoot",\s*"querySelector",\s*"querySelectorAll"\s*\]([^}]*?\};\s*var testableMethods(?:\$\d+)? = \{[^}]*?Element: \[)\]/g,
        (_, accessors, between) => {
          untainted++;
          return `${accessors}"shadowRoot"]${between}"querySelector", "querySelectorAll"]`;
        },
      );
      if (!untainted) warnings.push({ text: "slim-rrweb: rrweb's prototype check was not found; recording adds an iframe to the page" });
      if (options.noCanvasWorker) {
        // The worker rrweb inlines (~2.6 KB) to picture canvases a few times a second: only
        // for recordCanvas, which footage.js never sets (canvas.ts copies canvases itself).
        const before = code;
        code = code.replace(/^var jsContent = ".*";$/m, 'var jsContent = "";');
        if (code === before) warnings.push({ text: "slim-rrweb: rrweb's canvas worker was not found; footage.js will be larger" });
        // The two ways rrweb watches canvases (only started with recordCanvas) become empty:
        // what only they use (the worker's wrapper, the 2D and WebGL observers, the argument
        // serialiser) is then dead code esbuild drops.
        const watching = code;
        code = code.replace(
          /^(\tinitCanvasFPSObserver\([^)]*\) \{\n)[\s\S]*?^(\t\}\n\tinitCanvasMutationObserver\([^)]*\) \{\n)[\s\S]*?^(\t\}\n)/m,
          '$1$2$3',
        );
        if (code === watching) warnings.push({ text: "slim-rrweb: rrweb's canvas observers were not found; footage.js will be larger" });
      }
      if (options.blockAttribute) {
        // rrweb asks every element of the page whether it is blocked: element.matches() of the
        // recorder's selector, a plain attribute test, which hasAttribute() answers for a
        // fraction of the cost (the same answer: HTML attribute names ignore case in both).
        const { selector, name } = options.blockAttribute;
        const before = code;
        code = code.replace(
          /^(\s*)if \(blockSelector\) return element\.matches\(blockSelector\);$/m,
          (_, indent) =>
            `${indent}if (blockSelector) return blockSelector === ${JSON.stringify(selector)} ? element.hasAttribute(${JSON.stringify(name)}) : element.matches(blockSelector);`,
        );
        if (code === before) warnings.push({ text: "slim-rrweb: rrweb's block test was not found; recording asks every element matches()" });
      }
      return { contents: code, loader: 'js', warnings };
    });
  },
});

const common = {
  bundle: true,
  minify: true,
  target: 'es2018',
  logLevel: 'info',
  legalComments: 'eof',
  plugins: [slimRrweb()],
  // rrweb bundles code written for Node that checks these; browsers have no `process`.
  define: {
    'process.env.NODE_ENV': '"production"',
    'process.env.LANG': 'undefined',
  },
};

// footage.js is built without rrweb's canvas worker (slimRrweb): its recorder must never ask rrweb
// to record canvases. Its block test is rrweb's made for the recorder's blockSelector.
const recorderSource = await readFile(path.join(here, 'src/recorder.ts'), 'utf8');
if (!/^\s*recordCanvas: false,$/m.test(recorderSource)) {
  throw new Error('src/recorder.ts must keep recordCanvas: false: footage.js has no canvas worker for rrweb');
}
const blockAttribute = { selector: '[data-recording-block]', name: 'data-recording-block' };
if (!recorderSource.includes(`blockSelector: '${blockAttribute.selector}',`)) {
  throw new Error(`src/recorder.ts must keep blockSelector: '${blockAttribute.selector}' (or change blockAttribute here)`);
}

const builds = [
  {
    ...common,
    entryPoints: [path.join(here, 'src/recorder.ts')],
    outfile: path.join(outdir, 'footage.js'),
    // Chromium compiles every function of a script with this comment while it streams it in,
    // on a background thread, instead of each on the page's main thread the first time it
    // runs (the snapshot, the first input): footage.js runs most of its code on every page.
    // Other browsers ignore the comment. (bench/RESULTS.md §13: script and main thread.)
    banner: { js: `${banner.js}\n//# allFunctionsCalledOnLoad` },
    format: 'iife',
    platform: 'browser',
    // rrweb's console warnings ("Failed to snapshot the document"…) would land in the site's
    // own console, where its developers look for their errors; the recorder stays silent there.
    drop: ['console'],
    plugins: [slimRrweb({ noCanvasWorker: true, blockAttribute })],
  },
  {
    ...common,
    entryPoints: [path.join(here, 'src/player.ts')],
    outfile: path.join(outdir, 'player.js'),
    format: 'iife',
    platform: 'browser',
  },
  {
    ...common,
    entryPoints: [path.join(here, 'src/live.ts')],
    outfile: path.join(outdir, 'live.js'),
    format: 'iife',
    platform: 'browser',
  },
  {
    ...common,
    entryPoints: [path.join(here, 'src/frames.ts')],
    outfile: path.join(outdir, 'frames.js'),
    format: 'iife',
    platform: 'browser',
  },
  {
    ...common,
    entryPoints: [path.join(here, 'src/dashboard.ts')],
    outfile: path.join(outdir, 'dashboard.js'),
    format: 'iife',
    platform: 'browser',
  },
  {
    ...common,
    entryPoints: [path.join(here, 'src/chat.ts')],
    banner,
    outfile: path.join(outdir, 'chat.js'),
    format: 'iife',
    platform: 'browser',
  },
  {
    ...common,
    entryPoints: [path.join(here, 'src/conversations.ts')],
    outfile: path.join(outdir, 'conversations.js'),
    format: 'iife',
    platform: 'browser',
  },
  {
    ...common,
    entryPoints: [path.join(here, 'src/heatmap.ts')],
    outfile: path.join(outdir, 'heatmap.js'),
    format: 'iife',
    platform: 'browser',
  },
  {
    ...common,
    entryPoints: [path.join(here, 'src/api-docs.ts')],
    outfile: path.join(outdir, 'api-docs.js'),
    format: 'iife',
    platform: 'browser',
  },
  {
    ...common,
    entryPoints: [path.join(here, 'src/player.css')],
    outfile: path.join(outdir, 'player.css'),
  },
];

/**
 * The API docs page (/api/docs) serves Swagger UI from Footage itself, never from a CDN: the
 * version is the one pinned in package.json, and the page's policy allows only our scripts.
 */
async function copySwaggerUI() {
  const dist = path.join(here, 'node_modules/swagger-ui-dist');
  await mkdir(outdir, { recursive: true });
  for (const name of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
    await copyFile(path.join(dist, name), path.join(outdir, name));
  }
}

/** The digest that names a version of a file: in its hashed URL and its `.br` copy. Twin of
 * `digest` in footage/web/assets.py (a test checks that both agree). */
function digest(bytes) {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/**
 * footage.js loads the chat box from `/footage-chat.js`, which is revalidated every few
 * minutes; the chat box's hashed address is cached for a year. The recorder names it, so a
 * new chat box is a new recorder too (its own digest changes with it).
 */
async function pinChatBox() {
  const recorder = path.join(outdir, 'footage.js');
  const code = await readFile(recorder, 'utf8');
  const chat = `/footage-chat.${digest(await readFile(path.join(outdir, 'chat.js')))}.js`;
  const pinned = code.split('/footage-chat.js').join(chat);
  if (pinned === code) console.warn('footage.js names no /footage-chat.js: the chat box stays unpinned');
  await writeFile(recorder, pinned);
}

/** `<digest>.br` beside the bundles for every file served by URL; earlier ones go. */
async function compressAll() {
  for (const name of await readdir(outdir)) {
    if (name.endsWith('.br')) await unlink(path.join(outdir, name));
  }
  const folders = [outdir, staticdir];
  for (const folder of folders) {
    for (const name of await readdir(folder)) {
      if (!/\.(js|css)$/.test(name)) continue;
      const bytes = await readFile(path.join(folder, name));
      const compressed = brotliCompressSync(bytes, {
        params: {
          [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
          [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY,
          [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        },
      });
      if (compressed.length < bytes.length) {
        await writeFile(path.join(outdir, `${digest(bytes)}.br`), compressed);
      }
    }
  }
}

const profileAt = process.argv.indexOf('--profile');

if (profileAt > 0) {
  if (!process.argv[profileAt + 1]) throw new Error('--profile needs the file to write');
  const outfile = path.resolve(process.argv[profileAt + 1]);
  await esbuild.build({ ...builds[0], minify: false, outfile, logLevel: 'warning' });
} else if (watch) {
  await copySwaggerUI();
  for (const options of builds) {
    const context = await esbuild.context(options);
    await context.watch();
  }
  console.log('watching web/src for changes…');
} else {
  await copySwaggerUI();
  await Promise.all(builds.map((options) => esbuild.build(options)));
  await pinChatBox();
  await compressAll();
}
