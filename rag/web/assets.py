"""The page's CSS and the little JavaScript it needs (opening a cited source, copy, print).

The JavaScript never reads document text: it only follows ``href="#hd-src-…"`` anchors that
``rag.web.render`` writes, and copies the plain-text answer box.
"""

CSS = """
.hd-header h1 { font-size: 1.5rem; margin: 0 0 .2rem 0; }
.hd-header .hd-sub { color: var(--body-text-color-subdued); }
.hd-badge { display: inline-block; padding: .1rem .5rem; border-radius: .6rem;
  background: var(--color-accent-soft); font-size: .85rem; margin-right: .3rem; }
.hd-answer { line-height: 1.55; }
.hd-understood, .hd-notice, .hd-meta { font-size: .85rem; margin-top: .35rem;
  color: var(--body-text-color-subdued); }
.hd-notice { color: #92400e; }
.hd-refused { color: #b91c1c; font-weight: 600; }
a.hd-cite { text-decoration: none; font-weight: 600; padding: 0 .1rem; border-radius: .2rem;
  background: var(--color-accent-soft); cursor: pointer; }
.hd-caret { animation: hd-blink 1s step-start infinite; }
@keyframes hd-blink { 50% { opacity: 0; } }
.hd-sources-empty, .hd-nosource { color: var(--body-text-color-subdued); padding: .5rem; }
.hd-turn { margin-bottom: .8rem; }
.hd-turn-q { font-weight: 600; margin: .3rem 0; }
details.hd-source { border: 1px solid var(--border-color-primary); border-radius: .5rem;
  padding: .4rem .6rem; margin: .35rem 0; background: var(--block-background-fill); }
details.hd-source summary { cursor: pointer; font-weight: 600; }
details.hd-source.hd-flash { outline: 3px solid #f59e0b; }
.hd-n { color: var(--color-accent); }
dl.hd-meta-list { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .6rem;
  margin: .4rem 0; font-size: .9rem; }
dl.hd-meta-list dt { color: var(--body-text-color-subdued); }
dl.hd-meta-list dd { margin: 0; word-break: break-all; }
.hd-passage { white-space: normal; line-height: 1.5; font-size: .92rem; }
mark.hd-quote { background: #fde68a; color: inherit; padding: 0 .1rem; }
.hd-status { padding: .35rem .6rem; border-radius: .4rem; font-size: .92rem; }
.hd-ok { background: #ecfdf5; color: #065f46; }
.hd-warn { background: #fffbeb; color: #92400e; }
.hd-error { background: #fef2f2; color: #991b1b; }
.hd-info { background: var(--block-background-fill); }
.hd-brief h2 { font-size: 1.15rem; margin: 1rem 0 .4rem; }
.hd-brief table { border-collapse: collapse; width: 100%; font-size: .92rem; }
.hd-brief td, .hd-brief th { border: 1px solid var(--border-color-primary); padding: .3rem;
  vertical-align: top; text-align: left; }
.hd-brief .hd-date { font-weight: 600; white-space: nowrap; }
.hd-errors td { color: #991b1b; }
#hd-articles, #hd-articles * { font-family: var(--font) !important; }
"""

# Gradio scopes the rules of ``css`` under its container, which breaks selectors on <body>
# inside @media; the print rules go into the page's <head> as they are.
PRINT_HEAD = """<style>
@media print {
  body.hd-printing *:not(:has(#hd-briefing)):not(#hd-briefing):not(#hd-briefing *) {
    display: none !important;
  }
  body.hd-printing #hd-briefing { display: block !important; }
}
</style>"""

ON_LOAD_JS = """
() => {
  // Gradio has no Vietnamese locale: its few notices (toasts) are translated here. Only
  // text nodes are rewritten (textContent), never markup.
  const VI = [
    [/^Error$/, 'Lỗi'], [/^Warning$/, 'Cảnh báo'], [/^Info$/, 'Thông báo'],
    [/^File\\(s\\) exceed the maximum allowed size of (.+?): (.*)$/,
     'Tệp vượt quá dung lượng cho phép ($1): $2'],
    [/^Connection errored out\\.?$/, 'Mất kết nối tới máy chủ.'],
  ];
  const translate = () => document.querySelectorAll(
    '.toast-title, [data-testid=toast-text]').forEach((el) => {
    for (const node of el.childNodes) {
      if (node.nodeType !== 3) continue;
      const text = node.textContent.trim();
      for (const [re, vi] of VI) {
        if (re.test(text)) { node.textContent = text.replace(re, vi) + ' '; break; }
      }
    }
  });
  new MutationObserver(translate).observe(document.body, {subtree: true, childList: true});

  const reveal = (id) => {
    const el = document.getElementById(id);
    if (!el) return;
    if (el.tagName === 'DETAILS') el.open = true;
    el.scrollIntoView({behavior: 'smooth', block: 'center'});
    el.classList.add('hd-flash');
    setTimeout(() => el.classList.remove('hd-flash'), 1600);
  };
  document.addEventListener('click', (ev) => {
    const a = ev.target && ev.target.closest ? ev.target.closest('a.hd-cite') : null;
    if (!a) return;
    const href = a.getAttribute('href') || '';
    if (!href.startsWith('#hd-')) return;
    ev.preventDefault();
    ev.stopPropagation();
    reveal(href.slice(1));
  }, true);
}
"""

COPY_JS = """
(text) => {
  const done = () => { const s = document.querySelector('#hd-copy-done');
    if (s) { s.textContent = 'Đã sao chép.'; setTimeout(() => { s.textContent = ''; }, 2000); } };
  if (!text) return;
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
  } else {
    const ta = document.createElement('textarea');
    ta.value = text; document.body.appendChild(ta); ta.select();
    document.execCommand('copy'); ta.remove(); done();
  }
}
"""

PRINT_JS = """
() => {
  document.body.classList.add('hd-printing');
  window.print();
  document.body.classList.remove('hd-printing');
}
"""

CONFIRM_DELETE_JS = """
(choice) => {
  if (!choice) return choice;
  return window.confirm('Xoá bài ' + choice + ' khỏi chỉ mục?') ? choice : null;
}
"""
