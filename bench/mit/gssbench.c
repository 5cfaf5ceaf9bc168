/*
 * gssbench: MIT's gss_accept_sec_context on SPNEGO tokens, for bench/verify.py's Negotiate row.
 *
 *   gssbench CLIENT CLIENT_KEYTAB SERVICE N SECS TOKENS_OUT
 *
 * Gets CLIENT's TGT with its keytab into a MEMORY ccache, then builds up to N initiator
 * tokens for SERVICE (a Kerberos principal name, no host name canonicalization): each a new
 * gss_init_sec_context with the SPNEGO mechanism and mutual authentication, so each carries
 * a fresh authenticator, as curl --negotiate sends one per request. It writes them to
 * TOKENS_OUT (one hex line each), so that Orthrus verifies the very same tokens, then times
 * gss_accept_sec_context on each (the acceptor's keytab is $KRB5_KTNAME, MIT's default
 * replay cache on), and last accepts the first token again: a replay must be refused.
 * Output: one line "mode=gss_accept ops=... secs=... ops_per_s=... p50_us=... p99_us=...
 * errors=... replay=refused|ACCEPTED", as krb5bench prints.
 * Built by bench/mit.py with `krb5-config --cflags --libs krb5 gssapi`.
 */
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static krb5_context ctx;

#define CHK(expr) do { krb5_error_code _r = (expr); if (_r) { \
    fprintf(stderr, "%s failed: %s\n", #expr, krb5_get_error_message(ctx, _r)); exit(2);} } while (0)

static void gss_fail(const char *what, OM_uint32 major, OM_uint32 minor)
{
    OM_uint32 m, ctxv = 0;
    gss_buffer_desc text;
    gss_display_status(&m, minor, GSS_C_MECH_CODE, GSS_C_NO_OID, &ctxv, &text);
    fprintf(stderr, "%s failed: major %u: %.*s\n", what, major, (int)text.length,
            (char *)text.value);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: gssbench CLIENT CLIENT_KEYTAB SERVICE N SECS TOKENS_OUT\n");
        return 1;
    }
    long n = atol(argv[4]);
    double lim = atof(argv[5]);
    CHK(krb5_init_context(&ctx));

    /* The initiator's TGT, in the ccache gss_init_sec_context will use. */
    krb5_principal client;
    krb5_keytab kt;
    krb5_creds creds;
    krb5_ccache cc;
    setenv("KRB5CCNAME", "MEMORY:gssbench", 1);
    CHK(krb5_parse_name(ctx, argv[1], &client));
    CHK(krb5_kt_resolve(ctx, argv[2], &kt));
    memset(&creds, 0, sizeof(creds));
    CHK(krb5_get_init_creds_keytab(ctx, &creds, client, kt, 0, NULL, NULL));
    CHK(krb5_cc_resolve(ctx, "MEMORY:gssbench", &cc));
    CHK(krb5_cc_initialize(ctx, cc, client));
    CHK(krb5_cc_store_cred(ctx, cc, &creds));

    gss_OID_desc spnego = {6, "\x2b\x06\x01\x05\x05\x02"};
    OM_uint32 major, minor;
    gss_name_t target;
    gss_buffer_desc name = {strlen(argv[3]), argv[3]};
    major = gss_import_name(&minor, &name, GSS_KRB5_NT_PRINCIPAL_NAME, &target);
    if (major != GSS_S_COMPLETE) gss_fail("gss_import_name", major, minor);

    gss_buffer_desc *tokens = calloc(n, sizeof(gss_buffer_desc));
    double *lat = calloc(n, sizeof(double));
    long built = 0;
    double t0 = now();
    while (built < n && now() - t0 < lim) {
        gss_ctx_id_t ictx = GSS_C_NO_CONTEXT;
        major = gss_init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &ictx, target, &spnego,
                                     GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG,
                                     0, GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL,
                                     &tokens[built], NULL, NULL);
        if (GSS_ERROR(major)) gss_fail("gss_init_sec_context", major, minor);
        gss_delete_sec_context(&minor, &ictx, GSS_C_NO_BUFFER);
        built++;
    }
    FILE *out = fopen(argv[6], "w");
    if (!out) { perror(argv[6]); return 2; }
    for (long i = 0; i < built; i++) {
        const unsigned char *p = tokens[i].value;
        for (size_t j = 0; j < tokens[i].length; j++) fprintf(out, "%02x", p[j]);
        fputc('\n', out);
    }
    fclose(out);

    long ops = 0, errors = 0;
    t0 = now();
    while (ops < built && now() - t0 < lim) {
        gss_ctx_id_t actx = GSS_C_NO_CONTEXT;
        gss_buffer_desc reply = GSS_C_EMPTY_BUFFER;
        double s = now();
        major = gss_accept_sec_context(&minor, &actx, GSS_C_NO_CREDENTIAL, &tokens[ops],
                                       GSS_C_NO_CHANNEL_BINDINGS, NULL, NULL, &reply, NULL,
                                       NULL, NULL);
        lat[ops] = now() - s;
        if (major != GSS_S_COMPLETE) errors++;
        gss_release_buffer(&minor, &reply);
        gss_delete_sec_context(&minor, &actx, GSS_C_NO_BUFFER);
        ops++;
    }
    double secs = now() - t0;

    gss_ctx_id_t again = GSS_C_NO_CONTEXT;
    gss_buffer_desc reply = GSS_C_EMPTY_BUFFER;
    major = gss_accept_sec_context(&minor, &again, GSS_C_NO_CREDENTIAL, &tokens[0],
                                   GSS_C_NO_CHANNEL_BINDINGS, NULL, NULL, &reply, NULL, NULL,
                                   NULL);
    const char *replay = major == GSS_S_COMPLETE ? "ACCEPTED" : "refused";

    double p50 = 0, p99 = 0;
    if (ops > 0) {
        qsort(lat, ops, sizeof(double), cmpd);
        p50 = lat[ops / 2] * 1e6;
        p99 = lat[(long)(ops * 0.99)] * 1e6;
    }
    printf("mode=gss_accept ops=%ld secs=%.3f ops_per_s=%.1f p50_us=%.1f p99_us=%.1f "
           "errors=%ld replay=%s\n", ops, secs, ops / secs, p50, p99, errors, replay);
    return 0;
}
