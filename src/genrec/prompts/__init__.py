"""Prompt templates (YAML data) that turn a user's history of item identifiers into LM token ids."""

from genrec.prompts.template import PromptTemplate, get_template, load_templates

__all__ = ["PromptTemplate", "get_template", "load_templates"]
