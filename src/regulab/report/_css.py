"""The report's inline stylesheet: system fonts only, nothing fetched from the network."""

__all__ = ["CSS"]

CSS = """
:root{--ink:#1d2330;--muted:#5b6472;--line:#e3e7ed;--bg:#f4f6f9;--card:#fff;--accent:#2f6db5;
--best:#e6f5ec;--best-line:#1b8a5a;--tied:#fff5d6;--tied-line:#d49a00}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.6 -apple-system,
BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans",
"DejaVu Sans",sans-serif;-webkit-font-smoothing:antialiased}
.wrap{max-width:1140px;margin:0 auto;padding:0 24px}
header.top{background:linear-gradient(135deg,#1c2740 0%,#2c4a7a 100%);color:#fff;
padding:30px 0 26px}
.eyebrow{text-transform:uppercase;letter-spacing:.09em;font-size:12px;opacity:.72;margin:0 0 6px}
h1{font-size:30px;line-height:1.2;margin:0 0 10px;font-weight:650;letter-spacing:-.01em}
.meta{margin:0;font-size:14px;opacity:.92}
.meta span+span:before{content:"\\00B7";margin:0 .55em;opacity:.6}
nav.toc{display:flex;flex-wrap:wrap;gap:6px;margin:18px 0 0}
nav.toc a{color:#fff;text-decoration:none;font-size:13px;padding:3px 11px;border-radius:999px;
background:rgba(255,255,255,.13)}
nav.toc a:hover{background:rgba(255,255,255,.25)}
main.wrap{padding-top:26px;padding-bottom:8px}
p.summary{font-size:16.5px;line-height:1.6;background:var(--card);border:1px solid var(--line);
border-left:4px solid var(--accent);border-radius:8px;padding:14px 18px;margin:0 0 22px}
section.card{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:22px 26px;margin:0 0 22px;box-shadow:0 1px 2px rgba(16,24,40,.04)}
section.card h2{font-size:20px;margin:0 0 4px;font-weight:650;letter-spacing:-.005em}
p.lead{color:var(--muted);margin:0 0 14px}
p.empty{color:var(--muted);font-style:italic}
figure{margin:16px 0 8px}
figure img{display:block;max-width:100%;height:auto;margin:0 auto}
figcaption{color:var(--muted);font-size:13.5px;margin:8px 2px 0;line-height:1.5}
.table-scroll{overflow-x:auto;margin:6px 0 10px}
table{border-collapse:collapse;width:100%;font-size:13.5px;font-variant-numeric:tabular-nums}
th,td{padding:7px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-size:11.5px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);
font-weight:600;background:#f8f9fb;vertical-align:bottom}
td.num,th.num{text-align:right;white-space:nowrap}
td.name{font-weight:600;min-width:140px}
.nowrap{white-space:nowrap}
.marks{margin-top:4px}
table.comparison td,table.comparison th{padding:7px 8px}
tr.best td{background:var(--best)}
tr.best td:first-child{box-shadow:inset 4px 0 0 var(--best-line)}
tr.tied td{background:var(--tied)}
tr.tied td:first-child{box-shadow:inset 4px 0 0 var(--tied-line)}
.badge{display:inline-block;font-size:11px;font-weight:650;padding:1px 8px;border-radius:999px;
margin:1px 4px 1px 0;white-space:nowrap;line-height:1.6}
.badge.best{background:#1b8a5a;color:#fff}
.badge.tied{background:#f2c14e;color:#3b2f00}
.badge.preferred{background:#2f6db5;color:#fff}
.badge.diverged{background:#b3261e;color:#fff}
.ci{color:var(--muted);font-size:12px}
dl.legend{display:grid;grid-template-columns:max-content 1fr;gap:6px 12px;font-size:13.5px;
color:var(--muted);margin:12px 0 0;padding:12px 14px;background:#f8f9fb;border-radius:8px}
dl.legend dt{margin:0}
dl.legend dd{margin:0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;
font-size:.92em;background:#f1f3f6;padding:0 4px;border-radius:4px}
footer{color:var(--muted);font-size:12.5px;padding:4px 0 40px}
@media print{body{background:#fff}section.card{box-shadow:none;break-inside:avoid}
header.top{background:#1c2740;-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""
