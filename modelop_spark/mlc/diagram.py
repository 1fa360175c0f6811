"""A BPMN process as SVG, drawn from the file's own diagram interchange (BPMN DI).

Every ``bpmndi:BPMNShape`` is drawn at its ``dc:Bounds`` (events as circles, gateways as
diamonds, tasks as rounded boxes with their name), every ``bpmndi:BPMNEdge`` along its
``di:waypoint``s with an arrow head, so the picture is the one Camunda Modeler shows. The element
named by ``highlight`` gets the class ``current``. Pure: bytes in, SVG text out. (No maintained
Python library renders BPMN DI; bpmn-js needs a browser.)
"""

from __future__ import annotations

import textwrap
from xml.sax.saxutils import escape

from lxml import etree

from modelop_spark.errors import SpecError

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
MARGIN = 20
STYLE = """
  .shape { fill: #fff; stroke: #22242a; stroke-width: 2; }
  .end .shape { stroke-width: 4; }
  .flow { fill: none; stroke: #22242a; stroke-width: 1.5; }
  text { font-family: Arial, Helvetica, sans-serif; font-size: 12px; fill: #22242a; }
  .marker { font-size: 10px; fill: #6b6f76; }
  .current .shape { fill: #fff4cc; stroke: #e07b00; stroke-width: 4; }
  .current text { font-weight: bold; }
"""


def render_svg(bpmn_xml: bytes, highlight: str | None = None) -> str:
    try:
        root = etree.fromstring(bpmn_xml)
    except etree.XMLSyntaxError as exc:
        raise SpecError(f"BPMN is not well-formed XML: {exc}") from exc
    elements = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    plane = root.find(".//bpmndi:BPMNPlane", NS)
    if plane is None:
        raise SpecError("the BPMN file has no diagram (bpmndi:BPMNPlane); draw it in Camunda Modeler so it has one")
    shapes, edges, xs, ys = [], [], [], []
    for edge in plane.findall("bpmndi:BPMNEdge", NS):
        points = [(float(p.get("x")), float(p.get("y"))) for p in edge.findall("di:waypoint", NS)]
        xs += [p[0] for p in points]
        ys += [p[1] for p in points]
        edges.append(_edge(edge.get("bpmnElement"), points, elements, _label_bounds(edge), highlight))
    for shape in plane.findall("bpmndi:BPMNShape", NS):
        bounds = shape.find("dc:Bounds", NS)
        if bounds is None:
            continue
        x, y, w, h = (float(bounds.get(k)) for k in ("x", "y", "width", "height"))
        xs += [x, x + w]
        ys += [y, y + h]
        label = _label_bounds(shape)
        if label:
            xs += [label[0], label[0] + label[2]]
            ys += [label[1] + label[3]]
        ref = shape.get("bpmnElement")
        shapes.append(_shape(ref, elements.get(ref), x, y, w, h, label, highlight))
    if not xs:
        raise SpecError("the BPMN diagram has no shapes")
    left, top = min(xs) - MARGIN, min(ys) - MARGIN
    width, height = max(xs) - left + MARGIN, max(ys) - top + MARGIN
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{left:g} {top:g} {width:g} {height:g}" width="{width:g}" height="{height:g}">\n'
        f'<style>{STYLE}</style>\n'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#22242a"/></marker></defs>\n'
        + "".join(edges) + "".join(shapes) + "</svg>\n"
    )


def _label_bounds(node) -> tuple[float, float, float, float] | None:
    bounds = node.find("bpmndi:BPMNLabel/dc:Bounds", NS)
    if bounds is None:
        return None
    return tuple(float(bounds.get(k)) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def _kind(element) -> str:
    return etree.QName(element).localname if element is not None else "unknown"


def _classes(ref: str | None, kind: str, highlight: str | None) -> str:
    classes = ["element", kind]
    if kind == "endEvent":
        classes.append("end")
    if ref is not None and ref == highlight:
        classes.append("current")
    return " ".join(classes)


def _text_lines(text: str, x: float, y: float, width: float, *, css: str = "") -> str:
    lines = textwrap.wrap(text, max(int(width / 6.5), 6)) or [""]
    start = y - (len(lines) - 1) * 7
    spans = "".join(f'<tspan x="{x:g}" y="{start + i * 14:g}">{escape(line)}</tspan>' for i, line in enumerate(lines))
    return f'<text text-anchor="middle" dominant-baseline="middle"{css}>{spans}</text>'


def _shape(ref, element, x, y, w, h, label, highlight) -> str:
    kind = _kind(element)
    name = (element.get("name") if element is not None else None) or ""
    cx, cy = x + w / 2, y + h / 2
    body: list[str] = []
    if kind.endswith("Event"):
        body.append(f'<circle class="shape" cx="{cx:g}" cy="{cy:g}" r="{min(w, h) / 2:g}"/>')
    elif kind.endswith("Gateway"):
        body.append(f'<polygon class="shape" points="{cx:g},{y:g} {x + w:g},{cy:g} {cx:g},{y + h:g} {x:g},{cy:g}"/>')
        if kind == "exclusiveGateway":
            d = w / 5
            body.append(f'<path class="flow" d="M {cx - d:g} {cy - d:g} L {cx + d:g} {cy + d:g} M {cx + d:g} {cy - d:g} L {cx - d:g} {cy + d:g}" style="stroke-width:3"/>')
    else:
        body.append(f'<rect class="shape" x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="10" ry="10"/>')
        marker = {"serviceTask": "service", "userTask": "approval", "businessRuleTask": "DMN", "scriptTask": "script"}.get(kind)
        if marker:
            body.append(f'<text class="marker" x="{x + 6:g}" y="{y + 13:g}">{marker}</text>')
        body.append(_text_lines(name, cx, cy + 4, w - 10))
        name = ""
    if name:
        lx, ly, lw, lh = label or (cx - 45, y + h + 5, 90, 14)
        body.append(_text_lines(name, lx + lw / 2, ly + lh / 2, lw + 20))
    return f'<g id="{escape(str(ref))}" class="{_classes(ref, kind, highlight)}">{"".join(body)}</g>\n'


def _edge(ref, points, elements, label, highlight) -> str:
    element = elements.get(ref)
    path = " ".join(("M" if i == 0 else "L") + f" {x:g} {y:g}" for i, (x, y) in enumerate(points))
    name = (element.get("name") if element is not None else None) or ""
    text = ""
    if name and label:
        text = f'<text x="{label[0]:g}" y="{label[1] + label[3] - 2:g}">{escape(name)}</text>'
    return f'<g id="{escape(str(ref))}" class="{_classes(ref, "sequenceFlow", highlight)}"><path class="flow" d="{path}" marker-end="url(#arrow)"/>{text}</g>\n'


__all__ = ["render_svg"]
