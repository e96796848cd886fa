"""Prometheus metrics of one gateway, on its own registry so several gateways can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.open_streams = Gauge("mediagw_open_streams", "Streams currently open", ["ingress"], registry=self.registry)
        self.audio_seconds = Counter(
            "mediagw_audio_seconds", "Seconds of audio received", ["ingress"], registry=self.registry
        )
        self.utterances = Counter(
            "mediagw_utterances", "Utterances transcribed and delivered", ["ingress"], registry=self.registry
        )
        self.asr_queue_depth = Gauge(
            "mediagw_asr_queue_depth", "Utterances waiting for an ASR worker", registry=self.registry
        )
        self.asr_latency = Histogram(
            "mediagw_asr_latency_seconds",
            "Decode time of one utterance",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_latency = Histogram(
            "mediagw_utterance_stage_seconds",
            "An utterance's latency by stage: end_wait, queued, decode, turn_wait, text, output (mediagw/latency.py)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.e2e_latency = Histogram(
            "mediagw_end_to_end_latency_seconds",
            "From the segmenter closing an utterance to its transcript being handed to the output",
            ["ingress"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.speech_to_transcript = Histogram(
            "mediagw_speech_to_transcript_seconds",
            "From the end of an utterance's speech to its transcript handed to the output (every stage together)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rtp_packets = Counter(
            "mediagw_rtp_packets",
            "RTP packets of ended SIPREC streams by outcome (received, lost, late, duplicate, rtcp, foreign, bad: "
            "not RTP or not decodable...)",
            ["outcome"],
            registry=self.registry,
        )
        self.rtp_foreign = Counter(
            "mediagw_rtp_foreign_packets",
            "SIPREC RTP packets dropped as they arrived for their source (not-allowed: outside siprec.allowed_sources; "
            "unexpected-source: not where siprec.rtp_source_check expects the stream's RTP from)",
            ["reason"],
            registry=self.registry,
        )
        self.siprec_refused = Counter(
            "mediagw_siprec_invites_refused",
            "New SIPREC INVITEs answered with an error, by reason (source-not-allowed, unconfirmed-dialogs, "
            "max-calls, draining, no-rtp-port, not-acceptable, bad-offer, media-type, require, session-timer, "
            "bad-request)",
            ["reason"],
            registry=self.registry,
        )
        self.connections_refused = Counter(
            "mediagw_connections_refused",
            "Connections closed as they were accepted because their listener was at its limit (http, sip-tcp, sip-tls)",
            ["listener"],
            registry=self.registry,
        )
        self.errors = Counter("mediagw_errors", "Errors by status code", ["code"], registry=self.registry)
        self.store_dropped = Counter(
            "mediagw_store_dropped_utterances",
            "Utterances dropped because PostgreSQL was away and the store's buffer (store.buffer_size) was full",
            registry=self.registry,
        )
        self.redaction_context_late = Counter(
            "mediagw_redaction_context_late",
            "Utterances redacted fail-safe: the other party's earlier words were not transcribed in time",
            registry=self.registry,
        )
        self.utterance_failures = Counter(
            "mediagw_utterance_failures",
            "Utterances not transcribed (4080) by the stage that failed (asr, text)",
            ["ingress", "stage"],
            registry=self.registry,
        )
        self.asr_unfinished = Gauge(
            "mediagw_asr_unfinished",
            "Utterances not decoded yet (queued, waiting for room, or being decoded), as of the scrape",
            registry=self.registry,
        )
        self.untranscribed = Counter(
            "mediagw_untranscribed_utterances",
            "Utterances the shutdown deadline left undecoded (stored as such; their audio spooled where allowed)",
            ["ingress"],
            registry=self.registry,
        )
        self.untranscribed_seconds = Counter(
            "mediagw_untranscribed_audio_seconds",
            "Speech in the utterances the shutdown deadline left undecoded",
            ["ingress"],
            registry=self.registry,
        )
        self.spooled = Counter(
            "mediagw_untranscribed_spooled",
            "Untranscribed utterances recorded at shutdown, by whether their audio was kept (audioRecordingAllowed)",
            ["audio"],
            registry=self.registry,
        )
        self.late_utterances = Counter(
            "mediagw_late_utterances",
            "Spooled utterances transcribed after a restart, by outcome (delivered, empty, failed)",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_latency = Histogram(
            "mediagw_webhook_latency_seconds",
            "From a transcript being stored to its webhook POST answered",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "mediagw_webhook_deliveries", "Webhook messages delivered (2xx)", ["target"], registry=self.registry
        )
        self.webhook_failures = Counter(
            "mediagw_webhook_failures", "Webhook messages not delivered", ["target", "outcome"], registry=self.registry
        )
        self.asr_loops_cut = Counter(
            "mediagw_asr_loops_cut", "Decodes cut as hallucination loops", registry=self.registry
        )
        self.speculative_decodes = Counter(
            "mediagw_speculative_decodes",
            "Speculative decodes before an utterance's end was confirmed, by outcome: used (its result was the "
            "utterance's), wasted (decoded, then speech resumed), withdrawn (void before a worker took it), "
            "skipped (the ASR pool had no idle worker)",
            ["outcome"],
            registry=self.registry,
        )
        self.utterances_dropped = Counter(
            "mediagw_utterances_dropped",
            "Utterances decoded but dropped as non-speech (no_speech: the model judged it silence)",
            ["reason"],
            registry=self.registry,
        )
