"""The student webmail: mailbox reading, writing, and the forwarding filter (Courrier › Filtres).

Views talk to a ``MailStore`` (``ent.webmail.backends``), never to Maildir or IMAP directly, so
the embedded ``local`` store and the production ``dovecot`` store pass the same contract tests.
"""
