"""What a report is made of: sections of sentences, plots and small tables.

Sections are plain data, built from the warehouse by the section modules and turned into HTML by
`render`; nothing here knows about HTML or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

# The page's sections in order; each key is its element id, so `latest.html#<key>` opens it.
# Alerts link to these anchors: renaming one breaks the links in Slack.
SECTION_KEYS: tuple[str, ...] = ("headline", "forecast", "promotions", "media", "plan",
                                 "customers", "health")


@dataclass
class Text:
    """A few sentences of plain reading, shown before the plot or table they explain."""

    sentences: list[str]
    kind: str = "text"


@dataclass
class Plot:
    """One interactive chart: a plotly figure as plain JSON-able data (`data`, `layout`)."""

    key: str
    figure: dict[str, Any]
    caption: str = ""
    kind: str = "plot"


@dataclass
class Table:
    """A small table, already formatted for people (every cell a string)."""

    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    kind: str = "table"


@dataclass
class Notice:
    """A message above the section: `missing` (a model or table has nothing yet), `warning`
    (figures shown but not to act on), or `info`."""

    level: str
    text: str


@dataclass
class Section:
    """Notices first, then its items (reading, plots, tables) in the order they were added."""

    key: str
    title: str
    notices: list[Notice] = field(default_factory=list)
    items: list[Text | Plot | Table] = field(default_factory=list)

    def say(self, *sentences: str) -> None:
        if sentences:
            self.items.append(Text(list(sentences)))

    def add(self, item: Plot | Table) -> None:
        self.items.append(item)

    @property
    def sentences(self) -> list[str]:
        return [s for item in self.items if isinstance(item, Text) for s in item.sentences]

    @property
    def plots(self) -> list[Plot]:
        return [item for item in self.items if isinstance(item, Plot)]

    @property
    def tables(self) -> list[Table]:
        return [item for item in self.items if isinstance(item, Table)]

    def missing(self, text: str) -> None:
        self.notices.append(Notice("missing", text))

    def warn(self, text: str) -> None:
        self.notices.append(Notice("warning", text))


@dataclass
class Report:
    as_of: date | None
    generated_at: datetime
    warehouse: str  # the warehouse URL with its password hidden
    sections: list[Section]

    @property
    def plots(self) -> list[Plot]:
        return [plot for section in self.sections for plot in section.plots]
