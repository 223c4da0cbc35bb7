"""`{{ event|sentence }}` and `{{ event.action|action_words }}`: audit events in words (audit.sentences)."""

from django import template

from bnpl_admin.audit import sentences

register = template.Library()


@register.filter
def sentence(event) -> str:
    return sentences.describe(event.action, event.data)


@register.filter
def action_words(action: str) -> str:
    return sentences.action_words(action)
