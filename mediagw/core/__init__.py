"""The core: call records and their start/stop rules, node media, and the one interface adapters use."""
