"""boto3 clients shared by every KVS reader: one session, one control-plane client per region, one media client per
data endpoint.

Building a botocore client costs tens of milliseconds of CPU and megabytes of memory, so hundreds of readers
share them (botocore clients are thread-safe; creating them is not, hence the lock). Each client's connection
pool holds `max_readers` connections, because every running GetMedia keeps one open for the whole call.
Credentials come from the standard chain, or from a role assumed with that chain's credentials and refreshed by
botocore before they expire (an assumed role lasts an hour; calls and readers outlive that).
"""

from __future__ import annotations

import threading
from typing import Any

from mediagw.config import AmazonConnectConfig


class KvsClients:
    def __init__(self, config: AmazonConnectConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._session: Any = None
        self._control: dict[str, Any] = {}  # region -> kinesisvideo client
        self._media: dict[tuple[str, str], Any] = {}  # (region, data endpoint) -> kinesis-video-media client

    def media_for(self, stream_arn: str, region: str) -> Any:
        """The GetMedia client for a stream: its data endpoint is asked of the control plane each time (it can
        move; one request per connection is well inside GetDataEndpoint's limits)."""
        control = self._client("kinesisvideo", region, self._config.endpoint_url or None, self._control, region)
        endpoint = control.get_data_endpoint(StreamARN=stream_arn, APIName="GET_MEDIA")["DataEndpoint"]
        return self._client("kinesis-video-media", region, endpoint, self._media, (region, endpoint))

    def _client(self, service: str, region: str, endpoint: str | None, cache: dict[Any, Any], key: Any) -> Any:
        client = cache.get(key)
        if client is not None:
            return client
        from botocore.config import Config

        with self._lock:
            if key not in cache:
                pool = Config(max_pool_connections=self._config.max_readers, retries={"max_attempts": 1})
                cache[key] = self._boto_session(region).client(
                    service, region_name=region, endpoint_url=endpoint, config=pool
                )
            return cache[key]

    def _boto_session(self, region: str) -> Any:
        if self._session is None:
            self._session = _session(self._config, region)
        return self._session


def _session(config: AmazonConnectConfig, region: str) -> Any:
    import boto3

    if not config.role_arn:
        return boto3.Session()
    return boto3.Session(botocore_session=_assumed_role_session(config, region))


def _assumed_role_session(config: AmazonConnectConfig, region: str) -> Any:
    """A botocore session whose credentials are `role_arn` assumed (with `external_id`), refreshed before expiry;
    STS is asked in the region of the first stream read (regional STS endpoints need one)."""
    import botocore.session
    from botocore.credentials import AssumeRoleCredentialFetcher, CredentialProvider, DeferredRefreshableCredentials

    source = botocore.session.get_session()  # the standard chain: environment, profile, IRSA, instance role
    extra: dict[str, str] = {"RoleSessionName": "mediagw-kvs"}
    if config.external_id:
        extra["ExternalId"] = config.external_id
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=lambda service, **kwargs: source.create_client(service, **{"region_name": region, **kwargs}),
        source_credentials=source.get_credentials(),
        role_arn=config.role_arn,
        extra_args=extra,
    )

    class AssumedRole(CredentialProvider):  # type: ignore[misc]
        METHOD = "mediagw-assume-role"

        def load(self) -> DeferredRefreshableCredentials:
            return DeferredRefreshableCredentials(refresh_using=fetcher.fetch_credentials, method=self.METHOD)

    session = botocore.session.get_session()
    session.get_component("credential_provider").insert_before("env", AssumedRole())
    return session
