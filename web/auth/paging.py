"""One page of a longer list: the rows, where they sit, how many there are in all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.queryset import QuerySet

T = TypeVar("T")
MAX_PAGE_NUMBER = 1_000_000  # an absurd ?page= is clamped, not turned into a huge OFFSET


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(raw: int | None) -> int:
    return min(max(raw or 1, 1), MAX_PAGE_NUMBER)


async def paginate(query: QuerySet[T], number: int, size: int) -> Page[T]:  # type: ignore[type-var]
    """LIMIT/OFFSET over ``query`` (already ordered), plus one COUNT for the pager."""
    total = await query.count()
    number = min(page_number(number), max(1, -(-total // size)))
    items = await query.offset((number - 1) * size).limit(size)
    return Page(list(items), number, size, total)
