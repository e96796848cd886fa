"""The direct WebSocket API of the reference: startStream, binary L16, transcript, finishStream, finalResponse."""
