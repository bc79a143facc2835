"""``ent mail-receiver``, the name the issue and the README use (the project's commands take a
hyphen, as ``ent import-students``); the code lives in ``mail_receiver.py``."""

from ent.webmail.management.commands.mail_receiver import Command

__all__ = ["Command"]
