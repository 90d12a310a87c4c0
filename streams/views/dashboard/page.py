"""One self-contained HTML dashboard page (inline CSS and SVG, no JavaScript libraries, no CDN, so
it works offline), and the error page. Pure: no I/O."""

from __future__ import annotations

import urllib.parse

from streams.views.dashboard.brand_panels import PANEL_CSS, share_section, voices_section
from streams.views.dashboard.charts import ALERT_COLOR, COLORS, SHARE_COLOR, confidence_chart, sentiment_chart
from streams.views.dashboard.format import esc, pct, when
from streams.views.dashboard.model import WINDOWS, DashboardData, DashboardQuery


_CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2933;background:#f1f4f8}
header{background:#102a43;color:#fff;padding:14px 28px;display:flex;align-items:center;gap:24px;flex-wrap:wrap}
header h1{font-size:20px;margin:0;font-weight:650;letter-spacing:.2px}header h1 span{color:#9fb3c8;font-weight:400}
header form{display:flex;gap:10px;align-items:center;margin-left:auto;flex-wrap:wrap}
header label{font-size:12px;color:#bcccdc}header select,header button{font:inherit;padding:5px 8px;border-radius:6px;border:1px solid #486581;background:#fff;color:#102a43}
header button{background:#2680c2;color:#fff;border-color:#2680c2;cursor:pointer}
main{padding:20px 28px;max-width:1280px;margin:0 auto}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:12px;margin-bottom:16px}
.card{background:#fff;border-radius:10px;padding:12px 14px;box-shadow:0 1px 2px rgba(16,42,67,.08)}
.card .k{font-size:12px;color:#627d98;text-transform:uppercase;letter-spacing:.4px}.card .v{font-size:22px;font-weight:650;margin-top:2px;overflow-wrap:anywhere}
.card .s{font-size:12px;color:#829ab1}
section{background:#fff;border-radius:10px;padding:14px 18px;margin-bottom:16px;box-shadow:0 1px 2px rgba(16,42,67,.08)}
section h2{font-size:15px;margin:0 0 8px;font-weight:650}
.legend{display:flex;gap:16px;font-size:12px;color:#486581;margin:0 0 4px}.legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
svg .grid{stroke:#e4e7eb;stroke-width:1}svg .axis{stroke:#9aa5b1}svg .tick{stroke:#9aa5b1}
svg text{font:11px system-ui,"DejaVu Sans",sans-serif;fill:#627d98}svg .share{fill:#5b21b6}svg .axis-title{font-weight:600}
svg .marker-label{fill:#fff;font-weight:700;font-size:10px}svg .empty{font-size:15px;fill:#829ab1}
table{width:100%;border-collapse:collapse;font-size:13px}th{text-align:left;color:#627d98;font-weight:600;border-bottom:1px solid #d9e2ec;padding:6px 8px}
td{border-bottom:1px solid #f0f4f8;padding:6px 8px;vertical-align:top}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr:target{background:#fff4e6}.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;background:#e8590c;color:#fff}
.muted{color:#829ab1}footer{color:#829ab1;font-size:12px;text-align:center;padding:6px 0 20px}
"""


def _options(values: list[tuple[str, str]], selected: str) -> str:
    return "".join(
        f'<option value="{esc(v)}"{" selected" if v == selected else ""}>{esc(label)}</option>' for v, label in values
    )


def _controls(data: DashboardData) -> str:
    q = data.query
    brands = [("", "All brands")] + [(b, b) for b in data.brands]
    if q.brand and q.brand not in data.brands:
        brands.append((q.brand, q.brand))
    windows = [("", "fit to the data")] + [(w, f"last {w}") for w in WINDOWS]
    if q.since and q.since not in WINDOWS:
        windows.append((q.since, f"last {q.since}"))
    untils = [("latest", "newest data"), ("now", "now")]
    if q.until not in ("latest", "now"):
        untils.append((q.until, q.until))
    return (
        '<form method="get" action="">'
        f'<label for="brand">Brand</label><select id="brand" name="brand" onchange="this.form.submit()">{_options(brands, q.brand or "")}</select>'
        f'<label for="since">Window</label><select id="since" name="since" onchange="this.form.submit()">{_options(windows, q.since or "")}</select>'
        f'<label for="until">Ending</label><select id="until" name="until" onchange="this.form.submit()">{_options(untils, q.until)}</select>'
        + (f'<input type="hidden" name="bucket" value="{esc(q.bucket)}">' if q.bucket else "")
        + f'<input type="hidden" name="refresh" value="{q.refresh}"><button type="submit">Show</button></form>'
    )


def _cards(data: DashboardData) -> str:
    posts = sum(b.posts for b in data.buckets)
    neg = sum(b.negative for b in data.buckets)
    expected_neg = sum(b.posts * b.expected("negative") for b in data.buckets)
    conf = sum(b.mean_confidence * b.posts for b in data.buckets) / posts if posts else None
    champion = next((m for m in data.models if m.role == "champion"), None)
    challenger = next((m for m in data.models if m.role == "challenger"), None)
    cards = [
        ("Posts", f"{posts:,}", f"{len(data.buckets)} buckets of {data.bucket}"),
        ("Negative share", pct(expected_neg / posts if posts else None), f"{neg:,} posts flagged negative"),
        ("Mean confidence", "–" if conf is None else f"{conf:.3f}", "champion model"),
        ("Alerts", f"{len(data.alerts)}", "in this window"),
        ("Label queue", f"{data.label_queue:,}", "posts awaiting a human label"),
        ("Champion", champion.version if champion else "–", f"shadow: {challenger.version}" if challenger else "no challenger"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card" id="card-{esc(k.lower().replace(" ", "-"))}"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div><div class="s">{esc(s)}</div></div>'
        for k, v, s in cards
    ) + "</div>"


def _alerts_table(data: DashboardData) -> str:
    if not data.alerts:
        return '<p class="muted">No alerts in this window.</p>'
    rows = []
    for i, a in enumerate(data.alerts, start=1):
        rows.append(
            f'<tr id="alert-{i}"><td><span class="badge">{i}</span></td><td>{esc(when(a.since))}</td><td>{esc(when(a.detected_at))}</td>'
            f"<td>{esc(a.kind + (' resolved' if a.resolution else ''))}</td><td>{esc(a.brand or 'all brands')}</td><td>{esc(a.detector)}</td>"
            f'<td class="num">{a.statistic:.3f}</td><td class="num">{a.threshold:.3f}</td><td>{esc(a.model_version)}</td><td>{esc(a.message)}</td></tr>'
        )
    head = "".join(
        f'<th{" class=num" if h in ("statistic", "threshold") else ""}>{h}</th>'
        for h in ("#", "drift since", "detected", "kind", "brand", "detector", "statistic", "threshold", "model", "details")
    )
    return f'<table id="alerts"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _models_table(data: DashboardData) -> str:
    if not data.models:
        return '<p class="muted">No model is serving yet.</p>'
    head = "".join(
        f'<th{" class=num" if i > 1 else ""}>{h}</th>'
        for i, h in enumerate(("role", "version", "human-labelled posts", "accuracy", "macro-F1", "negative recall"))
    )
    rows = "".join(
        f'<tr class="model-{esc(m.role)}"><td>{esc(m.role)}</td><td>{esc(m.version)}</td><td class="num">{m.labelled:,}</td>'
        f'<td class="num">{pct(m.accuracy)}</td><td class="num">{"–" if m.macro_f1 is None else f"{m.macro_f1:.3f}"}</td>'
        f'<td class="num">{pct(m.negative_recall)}</td></tr>'
        for m in data.models
    )
    return f'<table id="models"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def render_dashboard(data: DashboardData) -> str:
    """The whole page as one HTML document (inline CSS and SVG; nothing fetched from elsewhere)."""
    q = data.query
    title = f"{q.brand or 'All brands'} — brandpulse"
    refresh = f'<meta http-equiv="refresh" content="{q.refresh}">' if q.refresh else ""
    legend = "".join(f'<span><i style="background:{c}"></i>{k}</span>' for k, c in COLORS.items())
    legend += f'<span><i style="background:{SHARE_COLOR};height:3px;vertical-align:3px"></i>negative share (right axis)</span>'
    legend += f'<span><i style="background:{ALERT_COLOR};border-radius:50%"></i>alert (number links to the table)</span>'
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
        f"{refresh}<title>{esc(title)}</title><style>{_CSS}{PANEL_CSS}</style></head><body>"
        f'<header><h1>brandpulse <span>{esc(q.brand or "all brands")}</span></h1>{_controls(data)}</header><main>'
        f"{_cards(data)}"
        f'<section><h2>Sentiment per {esc(data.bucket)} · {esc(when(data.start))} → {esc(when(data.end))}</h2>'
        f'<div class="legend">{legend}</div>{sentiment_chart(data)}</section>'
        f"<section><h2>Mean confidence</h2>{confidence_chart(data)}</section>"
        f"<section><h2>Distinct voices and languages</h2>{voices_section(data.brand_panels, q.brand)}</section>"
        f"<section><h2>Share of voice</h2>{share_section(data.brand_panels, q.brand)}</section>"
        f"<section><h2>Alerts</h2>{_alerts_table(data)}</section>"
        f"<section><h2>Models on the human-labelled sample (all brands)</h2>{_models_table(data)}</section>"
        f"</main><footer>newest data {esc(when(data.newest))} · generated {esc(when(data.generated_at))} from {esc(data.source)}"
        f'{f" · refreshes every {q.refresh}s" if q.refresh else ""} · <a href="dashboard/data?{esc(query_string(q))}">JSON</a></footer></body></html>'
    )


def query_string(q: DashboardQuery) -> str:
    return urllib.parse.urlencode({k: v for k, v in q.model_dump().items() if v is not None})


def render_error(message: str, status: int) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>brandpulse dashboard — error {status}</title>'
        f"<style>{_CSS}</style></head><body><header><h1>brandpulse</h1></header><main><section>"
        f'<h2>Cannot show the dashboard ({status})</h2><p id="error">{esc(message)}</p>'
        '<p class="muted"><a href="?">Back to the default view</a></p></section></main></body></html>'
    )
