"""Keeping a chat safe (PROTOCOL v3, "Blocking and reporting"): ``reports`` gives ``ChatClient``
its ``report`` (message.report). Imports nothing of the client but what it is given: the
``ChatClient`` methods it calls are declared on the mixin and supplied by the client."""
