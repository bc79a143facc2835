"""Help-desk pages by area. Thin: parse with a form, call one service, render.

Every page but the sign-in ones (``auth``) is wrapped in ``staff_required`` (``roles.py``): a
staff session verified with TOTP, with the role the page needs. Every change is a POST (CSRF),
audited by its service with the staff actor and the address, and confirmed with a message.
``urls.py`` names each view by its module: ``auth``, ``dashboard``, ``students``, ``requests``,
``staff``, ``settings``, ``registry``.
"""
