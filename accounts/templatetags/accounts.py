from django import template

from builder import fair_use

register = template.Library()


@register.inclusion_tag("accounts/_limits.html")
def fair_use_limits():
    """The per-user limits (builder.fair_use), as the project list shows them."""
    return {"limits": fair_use.limits()}
