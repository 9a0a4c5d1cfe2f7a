/*
 * spve_glue.c: the C runtime of the XS glue (see spve_glue.h). With the XSUBs a
 * plugin's generated XS file holds, the only code that uses the Perl API.
 *
 * Errors: a function here that fails returns the reason (a static string or a
 * mortal message, ending in a newline); only the XSUB turns it into a Perl
 * exception. Perl code called from here (tied variables, warn handlers, log
 * functions) may still die, which only ever unwinds C and Perl frames: the
 * library's buffers are freed before any of it runs.
 */
#define PERL_NO_GET_CONTEXT
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"

#include "spve_glue.h"

#define SPVE_MAX_DEPTH 64

/* ---- encoding Perl values -------------------------------------------- */

/* Appends raw bytes to the request buffer (a plain byte string: no magic, no UTF-8
 * flag), growing it geometrically; cheaper than sv_catpvn for the many small pieces. */
static void spve_append(pTHX_ SV *buffer, const void *bytes, STRLEN length) {
    STRLEN used = SvCUR(buffer);
    char *data = SvPVX(buffer);
    if (SvLEN(buffer) < used + length + 1) data = SvGROW(buffer, (used + length) * 2 + 64);
    Copy(bytes, data + used, length, char);
    data[used + length] = '\0';
    SvCUR_set(buffer, used + length);
}

static void spve_put_u32(pTHX_ SV *buffer, U32 number) {
    unsigned char bytes[4];
    int i;
    for (i = 0; i < 4; i++) bytes[i] = (unsigned char)(number >> (8 * i));
    spve_append(aTHX_ buffer, bytes, 4);
}

static void spve_put_u64(pTHX_ SV *buffer, U64 number) {
    unsigned char bytes[8];
    int i;
    for (i = 0; i < 8; i++) bytes[i] = (unsigned char)(number >> (8 * i));
    spve_append(aTHX_ buffer, bytes, 8);
}

static void spve_put_tag(pTHX_ SV *buffer, char tag) {
    spve_append(aTHX_ buffer, &tag, 1);
}

/* Returns NULL, or the reason the bytes cannot be encoded. */
static const char *spve_put_bytes(pTHX_ SV *buffer, const char *bytes, STRLEN length) {
    if (length > 0xFFFFFFFFu) return "argument too large\n";
    spve_put_u32(aTHX_ buffer, (U32)length);
    spve_append(aTHX_ buffer, bytes, length);
    return NULL;
}

static void spve_put_int(pTHX_ SV *buffer, IV number) {
    spve_put_tag(aTHX_ buffer, 'I');
    spve_put_u64(aTHX_ buffer, (U64)number);
}

static void spve_put_double(pTHX_ SV *buffer, NV number) {
    double value = (double)number;
    U64 bits;
    Copy(&value, &bits, 1, U64);
    spve_put_tag(aTHX_ buffer, 'N');
    spve_put_u64(aTHX_ buffer, bits);
}

/* The encoders append `sv` to `buffer`; each returns NULL, or the reason it cannot
 * be encoded (the request is then abandoned: every buffer is a mortal). */
static const char *spve_encode(pTHX_ SV *buffer, SV *sv, int depth);

/* A string keeps Perl's internal bytes, as Perl's own file functions use them. */
static const char *spve_encode_string(pTHX_ SV *buffer, SV *sv) {
    STRLEN length;
    const char *bytes = SvPV_nomg(sv, length);
    spve_put_tag(aTHX_ buffer, SvUTF8(sv) ? 'T' : 'S');
    return spve_put_bytes(aTHX_ buffer, bytes, length);
}

static const char *spve_encode_array(pTHX_ SV *buffer, AV *array, int depth) {
    SSize_t last = av_len(array), i;
    spve_put_tag(aTHX_ buffer, 'A');
    spve_put_u32(aTHX_ buffer, (U32)(last + 1));
    for (i = 0; i <= last; i++) {
        SV **element = av_fetch(array, i, 0);
        const char *failure = spve_encode(aTHX_ buffer, element ? *element : NULL, depth + 1);
        if (failure) return failure;
    }
    return NULL;
}

static const char *spve_encode_hash(pTHX_ SV *buffer, HV *hash, int depth) {
    /* A tied hash does not know its size up front: count while encoding into a
     * separate buffer. An ordinary one is written in place. */
    int tied = SvRMAGICAL(hash) != 0;
    SV *members = tied ? sv_2mortal(newSVpvs("")) : buffer;
    U32 count = 0;
    HE *entry;
    if (!tied) {
        spve_put_tag(aTHX_ buffer, 'H');
        spve_put_u32(aTHX_ buffer, (U32)HvUSEDKEYS(hash));
    }
    hv_iterinit(hash);
    while ((entry = hv_iternext(hash))) {
        STRLEN key_length;
        const char *key = HePV(entry, key_length);
        const char *failure = spve_put_bytes(aTHX_ members, key, key_length);
        if (!failure) failure = spve_encode(aTHX_ members, hv_iterval(hash, entry), depth + 1);
        if (failure) return failure;
        count++;
    }
    if (tied) {
        spve_put_tag(aTHX_ buffer, 'H');
        spve_put_u32(aTHX_ buffer, count);
        sv_catsv(buffer, members);
    }
    return NULL;
}

static const char *spve_encode(pTHX_ SV *buffer, SV *sv, int depth) {
    if (depth > SPVE_MAX_DEPTH) return "argument nested too deeply\n";
    if (!sv) {
        spve_put_tag(aTHX_ buffer, 'U');
        return NULL;
    }
    SvGETMAGIC(sv);
    if (SvROK(sv)) {
        SV *target = SvRV(sv);
        if (SvTYPE(target) == SVt_PVHV) return spve_encode_hash(aTHX_ buffer, (HV *)target, depth);
        if (SvTYPE(target) == SVt_PVAV) return spve_encode_array(aTHX_ buffer, (AV *)target, depth);
        if (SvTYPE(target) <= SVt_PVMG) return spve_encode(aTHX_ buffer, target, depth + 1); /* e.g. JSON booleans */
        spve_put_tag(aTHX_ buffer, 'U'); /* code, glob, I/O: nothing Swift can use */
    } else if (!SvOK(sv) || isGV_with_GP(sv)) {
        spve_put_tag(aTHX_ buffer, 'U');
    } else if (SvPOK(sv)) {
        return spve_encode_string(aTHX_ buffer, sv);
    } else if (SvIOK(sv)) {
        if (SvIsUV(sv) && SvUVX(sv) > (UV)IV_MAX) spve_put_double(aTHX_ buffer, (NV)SvUVX(sv));
        else spve_put_int(aTHX_ buffer, SvIV_nomg(sv));
    } else if (SvNOK(sv)) {
        spve_put_double(aTHX_ buffer, SvNV_nomg(sv));
    } else {
        return spve_encode_string(aTHX_ buffer, sv);
    }
    return NULL;
}

/* ---- decoding the reply ----------------------------------------------- */

typedef struct {
    const unsigned char *position;
    const unsigned char *end;
} spve_reader;

static int spve_take(spve_reader *reader, size_t count, const unsigned char **bytes) {
    if ((size_t)(reader->end - reader->position) < count) return 0;
    *bytes = reader->position;
    reader->position += count;
    return 1;
}

static int spve_take_u32(spve_reader *reader, U32 *number) {
    const unsigned char *bytes;
    int i;
    if (!spve_take(reader, 4, &bytes)) return 0;
    *number = 0;
    for (i = 0; i < 4; i++) *number |= (U32)bytes[i] << (8 * i);
    return 1;
}

static int spve_take_u64(spve_reader *reader, U64 *number) {
    const unsigned char *bytes;
    int i;
    if (!spve_take(reader, 8, &bytes)) return 0;
    *number = 0;
    for (i = 0; i < 8; i++) *number |= (U64)bytes[i] << (8 * i);
    return 1;
}

/* Returns a new SV (reference count 1), or NULL when the reply is malformed. */
static SV *spve_decode(pTHX_ spve_reader *reader, int depth) {
    const unsigned char *bytes;
    U32 count, i;
    U64 bits;
    if (depth > SPVE_MAX_DEPTH || !spve_take(reader, 1, &bytes)) return NULL;
    switch (*bytes) {
    case 'U':
        return newSV(0);
    case 'I':
        return spve_take_u64(reader, &bits) ? newSViv((IV)(I64)bits) : NULL;
    case 'N': {
        double value;
        if (!spve_take_u64(reader, &bits)) return NULL;
        Copy(&bits, &value, 1, double);
        return newSVnv((NV)value);
    }
    case 'S':
    case 'T': {
        int text = *bytes == 'T';
        SV *string;
        if (!spve_take_u32(reader, &count) || !spve_take(reader, count, &bytes)) return NULL;
        string = newSVpvn((const char *)bytes, count);
        if (text) SvUTF8_on(string);
        return string;
    }
    case 'A': {
        AV *array;
        if (!spve_take_u32(reader, &count) || count > (U32)(reader->end - reader->position)) return NULL;
        array = newAV();
        for (i = 0; i < count; i++) {
            SV *element = spve_decode(aTHX_ reader, depth + 1);
            if (!element) {
                SvREFCNT_dec((SV *)array);
                return NULL;
            }
            av_push(array, element);
        }
        return newRV_noinc((SV *)array);
    }
    case 'H': {
        HV *hash;
        if (!spve_take_u32(reader, &count) || count > (U32)(reader->end - reader->position)) return NULL;
        hash = newHV();
        for (i = 0; i < count; i++) {
            U32 key_length;
            const unsigned char *key;
            SV *value;
            if (!spve_take_u32(reader, &key_length) || key_length > I32_MAX
                || !spve_take(reader, key_length, &key)
                || !(value = spve_decode(aTHX_ reader, depth + 1))) {
                SvREFCNT_dec((SV *)hash);
                return NULL;
            }
            (void)hv_store(hash, (const char *)key, (I32)key_length, value, 0);
        }
        return newRV_noinc((SV *)hash);
    }
    default:
        return NULL;
    }
}

/* ---- the call ----------------------------------------------------------- */

/* Emits one section of the reply (spve_sdk.h): warnings through warn,
 * output lines to the selected handle, log entries to the log function, values
 * onto the push argument. Perl code may run here, so it happens after the
 * library's buffers are freed. */
static void spve_emit(pTHX_ char tag, AV *lines, SV *logfunc, SV *push_target) {
    SSize_t i, last = av_len(lines);
    for (i = 0; i <= last; i++) {
        SV **entry = av_fetch(lines, i, 0);
        if (!entry) continue;
        if (tag == 'W') {
            warn_sv(sv_2mortal(newSVpvf("%" SVf "\n", SVfARG(*entry))));
        } else if (tag == 'O') {
            IO *io = GvIO(PL_defoutgv);
            PerlIO *out = io && IoOFP(io) ? IoOFP(io) : PerlIO_stdout();
            STRLEN length;
            const char *text = SvPV(*entry, length);
            PerlIO_write(out, text, length);
            PerlIO_write(out, "\n", 1);
        } else if (tag == 'L') {
            AV *pair;
            SV **level, **message;
            dSP;
            if (!logfunc || !SvROK(logfunc) || SvTYPE(SvRV(logfunc)) != SVt_PVCV) return;
            if (!SvROK(*entry) || SvTYPE(SvRV(*entry)) != SVt_PVAV) continue;
            pair = (AV *)SvRV(*entry);
            level = av_fetch(pair, 0, 0);
            message = av_fetch(pair, 1, 0);
            ENTER;
            SAVETMPS;
            PUSHMARK(SP);
            XPUSHs(level ? *level : &PL_sv_undef);
            XPUSHs(message ? *message : &PL_sv_undef);
            PUTBACK;
            call_sv(logfunc, G_DISCARD);
            FREETMPS;
            LEAVE;
        } else if (tag == 'P') {
            if (!push_target || !SvROK(push_target) || SvTYPE(SvRV(push_target)) != SVt_PVAV) return;
            av_push((AV *)SvRV(push_target), newSVsv(*entry));
        }
    }
}

/* Decodes a reply (the result, then tagged sections into `sections`) and frees
 * it. Returns the result as a mortal, or NULL when the reply is malformed. */
static SV *spve_read_reply(pTHX_ const spve_plugin *plugin, uint8_t *reply, size_t reply_length, AV *sections) {
    spve_reader reader;
    SV *result;
    int malformed;
    reader.position = reply;
    reader.end = reply + reply_length;
    result = spve_decode(aTHX_ &reader, 0);
    malformed = result == NULL;
    if (result) sv_2mortal(result);
    while (!malformed && reader.position < reader.end) {
        char tag = (char)*reader.position++;
        SV *section = spve_decode(aTHX_ &reader, 0);
        if (!section || !SvROK(section) || SvTYPE(SvRV(section)) != SVt_PVAV || !strchr("WOLP", tag)) {
            if (section) SvREFCNT_dec(section);
            malformed = 1;
            break;
        }
        av_push(sections, newSViv(tag));
        av_push(sections, section);
    }
    plugin->release(reply);
    return malformed ? NULL : result;
}

static void spve_emit_sections(pTHX_ AV *sections, SV *logfunc, SV *push_target) {
    SSize_t i;
    for (i = 0; i + 1 <= av_len(sections); i += 2) {
        SV **tag = av_fetch(sections, i, 0);
        SV **lines = av_fetch(sections, i + 1, 0);
        if (tag && lines) spve_emit(aTHX_ (char)SvIV(*tag), (AV *)SvRV(*lines), logfunc, push_target);
    }
}

/* The file descriptor of a Perl file handle (a glob, a reference to one, or an I/O
 * object), after flushing what Perl buffered for it; -1 for anything else, which the
 * library refuses with its own message. */
static IV spve_file_descriptor(pTHX_ SV *handle) {
    SV *target = SvROK(handle) ? SvRV(handle) : handle;
    IO *io;
    PerlIO *file;
    if (isGV_with_GP(target)) io = GvIO((GV *)target);
    else if (SvTYPE(target) == SVt_PVIO) io = (IO *)target;
    else return -1;
    if (!io) return -1;
    file = IoOFP(io) ? IoOFP(io) : IoIFP(io);
    if (!file) return -1;
    if (IoOFP(io)) PerlIO_flush(file);
    return PerlIO_fileno(file);
}

/* The host's storage API version (PVE::Storage::APIVER), 0 while PVE::Storage has not
 * defined it. Read once per process: it is a constant of the loaded PVE::Storage. */
static IV spve_host_apiver(pTHX) {
    static IV known = 0;
    if (!known) {
        CV *cv = get_cv("PVE::Storage::APIVER", 0);
        SV *value = cv ? cv_const_sv(cv) : NULL;
        if (value && SvIOK(value) && SvIV(value) > 0) known = SvIV(value);
    }
    return known;
}

/* Encodes the XSUB's arguments (ST(0) is the class) into `request`, and finds the
 * log and push arguments. Returns NULL, or the reason they cannot be encoded. */
static const char *spve_encode_request(pTHX_ const spve_binding *binding, I32 ax, I32 items,
                                       SV *request, SV **logfunc, SV **push_target) {
    /* The request is a hash: its tag, its member count (written once known), the members. */
    SV *members = request;
    const char *failure;
    U32 count = 1;
    size_t i;

    spve_put_tag(aTHX_ request, 'H');
    spve_put_u32(aTHX_ request, 0);
    if ((failure = spve_put_bytes(aTHX_ members, "class", 5))
        || (failure = spve_encode(aTHX_ members, ST(0), 0)))
        return failure;
    if (spve_host_apiver(aTHX)) {
        if ((failure = spve_put_bytes(aTHX_ members, "apiver", 6))) return failure;
        spve_put_int(aTHX_ members, spve_host_apiver(aTHX));
        count++;
    }
    for (i = 0; i < binding->count; i++) {
        const spve_arg *arg = &binding->args[i];
        I32 position = (I32)i + 1;
        SV *value = position < items ? ST(position) : &PL_sv_undef;
        switch (arg->kind) {
        case SPVE_ARG_SKIP:
            continue;
        case SPVE_ARG_LOG:
            *logfunc = value;
            continue;
        case SPVE_ARG_PUSH:
            *push_target = value;
            continue;
        default:
            break;
        }
        if ((failure = spve_put_bytes(aTHX_ members, arg->name, strlen(arg->name)))) return failure;
        if (arg->kind == SPVE_ARG_REST) {
            I32 j;
            spve_put_tag(aTHX_ members, 'A');
            spve_put_u32(aTHX_ members, position < items ? (U32)(items - position) : 0);
            for (j = position; j < items; j++)
                if ((failure = spve_encode(aTHX_ members, ST(j), 1))) return failure;
        } else if (arg->kind == SPVE_ARG_FH) {
            spve_put_int(aTHX_ members, spve_file_descriptor(aTHX_ value));
        } else if ((failure = spve_encode(aTHX_ members, value, 0))) {
            return failure;
        }
        count++;
    }
    for (i = 0; i < 4; i++) SvPVX(request)[1 + i] = (char)(unsigned char)(count >> (8 * i));
    return NULL;
}

/* Calls one method with the XSUB's arguments. Returns NULL and the reply's result
 * as a mortal in *result, or an error message (a mortal ending in a newline). The
 * library's buffers are freed either way. */
static SV *spve_call(pTHX_ const spve_binding *binding, I32 ax, I32 items, SV **result) {
    SV *request = sv_2mortal(newSVpvs(""));
    SV *logfunc = NULL, *push_target = NULL;
    const char *failure;
    AV *sections;
    size_t reply_length = 0;
    spve_v1_error error = { 0, NULL };
    uint8_t *reply;
    /* $! is the caller's unless a system call the method made failed. */
    int saved_errno = errno;

    SvGROW(request, 512);
    failure = spve_encode_request(aTHX_ binding, ax, items, request, &logfunc, &push_target);
    if (failure) return sv_2mortal(newSVpvf("%s: %s", binding->plugin->name, failure));

    reply = binding->function((const uint8_t *)SvPVX(request), SvCUR(request), &reply_length, &error);
    if (!reply && error.code == SPVE_ERROR_NONE)
        return sv_2mortal(newSVpvf("%s: no reply from %s\n", binding->plugin->name, binding->name));
    /* The reply is the library's, validated there: it is not tainted by the arguments
     * (under -T, Perl taints every value created in a statement that read a tainted one). */
    TAINT_NOT;
    sections = (AV *)sv_2mortal((SV *)newAV());
    *result = reply ? spve_read_reply(aTHX_ binding->plugin, reply, reply_length, sections) : &PL_sv_undef;
    errno = saved_errno;
    if (error.code != SPVE_ERROR_NONE) {
        /* A failure may come with what the method warned, printed or pushed before it. */
        SV *message = error.message ? sv_2mortal(newSVpv(error.message, 0))
                                    : sv_2mortal(newSVpvf("%s: unknown error", binding->plugin->name));
        binding->plugin->release(error.message);
        if (SvCUR(message) == 0 || SvPVX(message)[SvCUR(message) - 1] != '\n') sv_catpvs(message, "\n");
        if (*result) spve_emit_sections(aTHX_ sections, NULL, push_target);
        /* A failed system call's errno reaches Perl as $! (after any warn handler ran). */
        if (error.code > 0) SETERRNO(error.code, 0);
        return message;
    }
    if (!*result) return sv_2mortal(newSVpvf("%s: malformed reply from %s\n", binding->plugin->name, binding->name));
    spve_emit_sections(aTHX_ sections, logfunc, push_target);
    errno = saved_errno;
    return NULL;
}

/* A list element as a return value: kept alive by the stack (no copy). */
static SV *spve_element(pTHX_ AV *list, SSize_t index) {
    SV **element = av_fetch(list, index, 0);
    return element ? sv_2mortal(SvREFCNT_inc_simple_NN(*element)) : &PL_sv_undef;
}

/* Pushes a result the way the method's shape says; returns the new stack pointer. */
static SV **spve_push(pTHX_ SV **sp, SV *result, spve_shape shape) {
    AV *list = SvROK(result) && SvTYPE(SvRV(result)) == SVt_PVAV ? (AV *)SvRV(result) : NULL;
    SSize_t i, last;
    if (shape == SPVE_SHAPE_SCALAR || !list) {
        if (shape == SPVE_SHAPE_LIST && !SvOK(result)) return sp;
        XPUSHs(result);
        return sp;
    }
    if (shape == SPVE_SHAPE_CONTEXT && GIMME_V != G_LIST) {
        XPUSHs(spve_element(aTHX_ list, 0));
        return sp;
    }
    last = av_len(list);
    EXTEND(sp, last + 1);
    for (i = 0; i <= last; i++) PUSHs(spve_element(aTHX_ list, i));
    return sp;
}

SV *spve_glue_call(pTHX_ const spve_binding *binding, spve_shape shape, I32 ax, I32 items) {
    SV *result = NULL;
    SV *error = spve_call(aTHX_ binding, ax, items, &result);
    SV **sp;
    if (error) return error;
    /* Perl code may have run (warn handlers, log functions) and moved the stack, so
     * the return position is recomputed from ax. */
    sp = PL_stack_base + ax - 1;
    sp = spve_push(aTHX_ sp, result, shape);
    PUTBACK;
    return NULL;
}
