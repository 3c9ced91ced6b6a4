"""v1/signature (tenants) and v2/signreview (root), seed 001."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from gm_server_notify.api.paging import offset_list
from gm_server_notify.api.schema import PLATFORM_ERROR, OkOut
from gm_server_notify.api.views import PlatformAPIView, RootAPIView, parse
from signatures import selectors, services
from signatures.serializers import (
    SignatureDelete,
    SignatureIdOut,
    SignatureListOut,
    SignatureListQuery,
    SignatureOut,
    SignatureReview,
    SignatureUpdate,
    SignatureWrite,
)

ERRORS = {400: PLATFORM_ERROR, 403: PLATFORM_ERROR}
OK = {"message": "ok"}


class SignatureView(PlatformAPIView):
    @extend_schema(
        tags=["v1 signatures"],
        summary="查询签名: the tenant's own signatures",
        parameters=[SignatureListQuery],
        responses={200: SignatureListOut, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = parse(SignatureListQuery, request.query_params)
        return Response(
            offset_list(selectors.signatures_of(owner=request.user), item=SignatureOut, query=query)
        )

    @extend_schema(
        tags=["v1 signatures"],
        summary="创建签名",
        request=SignatureWrite,
        responses={200: SignatureIdOut, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        sign = services.create_signature(owner=request.user, **parse(SignatureWrite, request.data))
        return Response({"sign_id": sign.pk})

    @extend_schema(
        tags=["v1 signatures"],
        summary="编辑签名 (back to review)",
        request=SignatureUpdate,
        responses={200: SignatureIdOut, **ERRORS},
    )
    def put(self, request: Request) -> Response:
        sign = services.update_signature(owner=request.user, **parse(SignatureUpdate, request.data))
        return Response({"sign_id": sign.pk})

    @extend_schema(
        tags=["v1 signatures"], summary="删除签名", request=SignatureDelete, responses={200: OkOut, **ERRORS}
    )
    def delete(self, request: Request) -> Response:
        services.delete_signature(owner=request.user, **parse(SignatureDelete, request.data))
        return Response(OK)


class SignReviewView(RootAPIView):
    @extend_schema(
        tags=["v2 review"],
        summary="签名审核 (root only)",
        request=SignatureReview,
        responses={200: OkOut, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        services.review_signature(**parse(SignatureReview, request.data))
        return Response(OK)
