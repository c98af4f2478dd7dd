"""What each protocol action does: ``router`` (``Router``, ``Context``, ``Outcome``, ``@handles``),
``base`` (what the capabilities share), one module per capability (``chats``, ``messages``,
``devices``) and ``dispatch``, which includes them all on one router.

May import the domain, storage (the ``Store`` interface), push (to queue notifications) and
``retry``; never delivery, the service or the runtime: an action returns the posts it wants made
and the service hands them to delivery.
"""
