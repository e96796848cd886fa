"""Genesys Cloud AudioHook Monitor ingress: the WebSocket Genesys streams a conversation's two channels to."""
