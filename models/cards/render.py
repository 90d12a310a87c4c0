"""A model card as markdown: what ``brandpulse models card`` prints and ``card/card.md`` holds."""

from __future__ import annotations

from models.cards.schema import ModelCard, SetMetrics, SourceData


def _num(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _data_rows(split: str, sources: list[SourceData], labels: list[str]) -> list[str]:
    return [
        f"| {split} | {s.source} | {s.rows} | " + " | ".join(str(s.classes.get(lab, 0)) for lab in labels)
        + f" | {s.note} |"
        for s in sources
    ]


def _data(card: ModelCard) -> list[str]:
    lines = ["## Training data", ""]
    if card.data is None:
        return lines + [f"Sources were not recorded when this version was registered; trained on: {card.trained_on or 'unknown'}.", ""]
    lines += [
        "| split | source | rows | " + " | ".join(card.labels) + " | note |",
        "|---|---|---:|" + "---:|" * len(card.labels) + "---|",
    ]
    lines += _data_rows("train", card.data.train, card.labels) + _data_rows("validation", card.data.validation, card.labels)
    lines += _data_rows("calibration only", card.data.calibration, card.labels)
    if card.data.note:
        lines += ["", card.data.note]
    return lines + [""]


def _set(s: SetMetrics, level: str = "###") -> list[str]:
    lines = [f"{level} {s.name}", ""]
    if s.note:
        lines += [s.note, ""]
    size = f"n {s.n} · " if s.n else ""
    lines += [
        f"{size}accuracy {_num(s.accuracy)} · macro-F1 {_num(s.macro_f1)} · macro-recall {_num(s.macro_recall)} · "
        f"ECE {_num(s.ece)}",
        "",
    ]
    if s.per_class:
        lines += ["| class | precision | recall | F1 | support | ECE |", "|---|---:|---:|---:|---:|---:|"]
        lines += [
            f"| {name} | {_num(m.precision)} | {_num(m.recall)} | {_num(m.f1)} | {m.support} | {_num(s.ece_per_class.get(name))} |"
            for name, m in s.per_class.items()
        ]
        lines.append("")
    if s.reliability:
        lines += ["Reliability (top-label confidence bins):", "", "| confidence bin | mean confidence | accuracy | count |",
                  "|---|---:|---:|---:|"]
        lines += [
            f"| ({b.lower:.2f}, {b.upper:.2f}] | {b.confidence:.3f} | {b.accuracy:.3f} | {b.count} |" for b in s.reliability
        ]
        lines.append("")
    return lines


def render_markdown(card: ModelCard) -> str:
    lines = [
        f"# Model card: {card.version}",
        "",
        f"- base model: {card.base_model or 'unknown'}",
        f"- labels: {', '.join(card.labels)}",
        f"- trained on: {card.trained_on or 'unknown'}",
    ]
    if card.recipe:
        lines.append("- recipe: " + ", ".join(f"{k} {v}" for k, v in card.recipe.items()))
    lines.append("")
    lines += _data(card)
    lines += ["## Licences", ""] + [f"- {name}: {note}" for name, note in card.licences.items()] + [""]
    cal = card.calibration
    bias = "none" if cal.class_bias is None else ", ".join(f"{lab} {b:+.3f}" for lab, b in zip(card.labels, cal.class_bias))
    lines += [
        "## Calibration",
        "",
        f"- temperature {cal.temperature:.3f}; class bias: {bias}",
        f"- negative threshold: {'argmax' if cal.negative_threshold is None else f'{cal.negative_threshold:.4f}'}",
        f"- fitted on: {cal.fitted_on}",
        "",
        "## Validation",
        "",
    ]
    lines += _set(card.validation) if card.validation else ["No validation metrics were recorded.", ""]
    if card.shared:
        lines += ["## Shared evaluation sets", ""]
        for s in card.shared:
            lines += _set(s)
    lines += ["## Known weaknesses", ""] + [f"- {w}" for w in card.weaknesses]
    return "\n".join(lines) + "\n"
