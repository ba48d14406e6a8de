"""Visiting every page in a browser and noting what is wrong with it: the page wider than the
window, a box whose content is cut off, a console error, an answer that is not 200."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.async_api import ConsoleMessage, Error, Page

from stellwerk.web import nav

# Pages not in the navigation: forms, search, the sub-pages of areas.
EXTRA_PAGES = (
    "/ui/servers/new",
    "/ui/projects/new",
    "/ui/licenses/new",
    "/ui/redirects/new",
    "/ui/domains/register",
    "/ui/domains/transfer",
    "/ui/modules/available",
    "/ui/modules/repositories",
    "/leads/create",
    "/ui/search?q=acme",
)

# The page wider than the window, or a box whose content is wider than the box (cut off, or
# only seen by scrolling the box sideways).
OVERFLOW_CHECK = """() => {
  const out = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) {
    out.push(`the page is ${doc.scrollWidth}px wide in a ${window.innerWidth}px window`);
  }
  for (const box of document.querySelectorAll('.card, .figure, main, .sidenav')) {
    if (box.scrollWidth > box.clientWidth + 1) {
      const what = box.querySelector('h1, h2')?.textContent?.trim() || box.className;
      out.push(`"${what}" cuts its content off (${box.scrollWidth} > ${box.clientWidth}px)`);
    }
  }
  return out;
}"""


@dataclass
class Walk:
    problems: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)


def pages_to_visit(details: list[str]) -> list[str]:
    return [item.path for item in nav.items()] + list(EXTRA_PAGES) + details


async def walk(page: Page, paths: list[str], *, skip: tuple[int, ...] = (403,)) -> Walk:
    """Visit `paths` and report; a page answering one of `skip` (one the viewer may not open,
    403, or another owner's thing, 404) is passed by."""
    result = Walk()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def on_error(error: Error) -> None:
        errors.append(str(error))

    page.on("console", on_console)
    page.on("pageerror", on_error)
    try:
        for path in paths:
            errors.clear()
            response = await page.goto(path)
            assert response is not None
            if response.status in skip:
                continue
            if response.status != 200:
                result.problems.append(f"{path}: answered {response.status}")
                continue
            result.visited.append(path)
            for problem in await page.evaluate(OVERFLOW_CHECK):
                result.problems.append(f"{path}: {problem}")
            result.problems += [f"{path}: console: {text}" for text in errors]
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("pageerror", on_error)
    return result
