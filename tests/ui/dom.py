"""A minimal element tree of an HTML page (stdlib parser), to assert on pages served over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
# Elements whose text is separated from its neighbours' by a space in ``Node.text``.
BLOCKS = frozenset({"p", "div", "li", "td", "th", "tr", "h1", "h2", "h3", "section", "figcaption", "text"})


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    parts: list[str | Node] = field(default_factory=list)  # text and children in document order

    def walk(self) -> Iterator[Node]:
        for child in self.children:
            yield child
            yield from child.walk()

    def find_all(self, tag: str, css_class: str | None = None, **attrs: str) -> list[Node]:
        """Descendants with this tag, having ``css_class`` among their classes and these attributes
        (underscores in names stand for dashes: data_chart= is data-chart=)."""
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [
            node
            for node in self.walk()
            if node.tag == tag
            and (css_class is None or css_class in node.attrs.get("class", "").split())
            and all(node.attrs.get(name) == value for name, value in wanted.items())
        ]

    def find(self, tag: str, css_class: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, css_class, **attrs)
        assert found, f"no <{tag}> with class {css_class} and {attrs}"
        return found[0]

    @property
    def text(self) -> str:
        """The text content, whitespace collapsed; block elements are set apart by spaces."""
        pieces = [
            part if isinstance(part, str) else f" {part.text} " if part.tag in BLOCKS else part.text
            for part in self.parts
        ]
        return " ".join("".join(pieces).split())


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root
