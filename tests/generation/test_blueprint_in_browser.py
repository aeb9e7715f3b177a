"""Generated apps with linked things, used in Chromium as a person would: records are added through the
forms, a loan picks its book and member from selects, each book lists its loans; deleting a book takes
its loans with it (app.json says "cascade"), deleting a company its contacts still point to is refused
with the API's message on the page ("refuse")."""

import pytest
from django.contrib.auth import get_user_model

from builder.models import Project
from builder.versions import create_version
from generation.blueprint.responder import respond
from generation.protocol import parse
from sandbox import builds, lifecycle, smoke
from sandbox.access import content_security_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def preview(runtime_image):
    """A function: the preview of the blueprint's app for a prompt, built and smoke-tested for real."""
    owner = get_user_model().objects.create(username="reader")
    started = []

    def start(prompt: str):
        project = Project.objects.create(owner=owner, name=prompt[:40])
        files = parse(respond([{"role": "user", "content": prompt}], seed=2)).result_files()
        build = builds.create_build(app_version=create_version(project=project, files=files, parent=None))
        builds.build_and_preview(build.id)
        build.refresh_from_db()
        assert build.smoke_passed, build.smoke_message
        started.append((build, project))
        return build

    yield start
    for build, project in started:
        lifecycle.stop_preview(build, reason="test over")
        lifecycle.delete_project_data(project_id=project.id)


def in_browser(build, steps):
    """Run steps(page) in the smoke test's browser on the build's preview; return what they saw."""

    def run(browser):
        http, handle = smoke._forward(str(lifecycle.socket_path(build)), content_security_policy())
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        try:
            context.route("**/*", handle)
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(smoke.ORIGIN + "/")
            return {**steps(page), "errors": errors}
        finally:
            context.close()
            http.close()

    return smoke.browser.run(run, timeout=90)


def add(page, entity: str, **values):
    form = page.locator(f'form[aria-label="Add {entity}"]')
    for label, value in values.items():
        field = form.get_by_label(label.replace("_", " ").capitalize())
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(value)
    form.get_by_role("button").click()


def test_a_person_links_records_and_a_delete_takes_the_linked_ones_with_it(preview):
    build = preview(
        "A lending tracker: books with title and author, members with name and email, and loans "
        "with a book, a member and a due date"
    )

    def steps(page):
        add(page, "Book", title="Dune", author="Frank Herbert")
        add(page, "Member", name="Ada", email="ada@example.org")
        add(page, "Loan", book="Dune", member="Ada", due_date="2030-01-31")
        books = page.locator("#section-Book")
        books.get_by_text("Loans (1)").wait_for(timeout=5000)
        related = books.locator(".related").inner_text()
        books.get_by_role("button", name="Delete").click()
        page.locator("#section-Loan .empty").wait_for(timeout=5000)
        return {"related": related, "books": books.locator(".item-title").all_inner_texts()}

    seen = in_browser(build, steps)

    assert seen["errors"] == []
    assert seen["related"] == "Loans (1) Ada"  # the book lists its loan by who borrowed it
    assert seen["books"] == []  # the book went, and its loan with it


def test_deleting_a_record_others_point_to_is_refused_with_a_reason(preview):
    build = preview(
        "A small CRM: companies with name and industry, and contacts with name, email and a company"
    )

    def steps(page):
        add(page, "Company", name="Acme", industry="Anvils")
        add(page, "Contact", name="Wile", email="wile@example.org", company="Acme")
        companies = page.locator("#section-Company")
        companies.get_by_text("Contacts (1)").wait_for(timeout=5000)
        companies.get_by_role("button", name="Delete").click()
        page.get_by_role("alert").wait_for(timeout=5000)
        return {
            "alert": page.get_by_role("alert").inner_text(),
            "companies": companies.locator(".item-title").all_inner_texts(),
        }

    seen = in_browser(build, steps)

    assert seen["errors"] == []
    assert "cannot be deleted: 1 Contact record(s) link to it" in seen["alert"]
    assert seen["companies"] == ["Acme"]
