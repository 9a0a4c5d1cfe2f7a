/*
 * swiftplugin.h: the C ABI of the SwiftPlugin storage library, version 1.
 *
 * This hand-written header is the contract between the Swift library and the
 * generated Perl XS glue. The Swift side implements every function with
 * `@c @implementation`, so the compiler rejects a Swift signature that differs
 * from the one declared here; `make check` additionally compiles this header
 * together with the Swift-generated one.
 *
 * Conventions
 * - Every symbol is prefixed `spve_v1_`; an incompatible change gets `v2`.
 * - Every storage method has the same shape (spve_v1_method): it takes an
 *   encoded request and returns an encoded reply, or NULL and a filled error.
 * - Everything the library returns (replies, error messages) is allocated
 *   with malloc and released with spve_v1_free. Inputs are only borrowed for
 *   the duration of a call.
 * - The library never calls back into Perl, never starts threads, and never
 *   aborts on bad input: every failure is reported through spve_v1_error.
 *
 * Value encoding (requests and replies), all integers little-endian:
 *   'U'                              undefined value
 *   'I' int64                        integer
 *   'N' float64                      floating point number
 *   'S' uint32 len, bytes            byte string (Perl string without UTF-8 flag)
 *   'T' uint32 len, UTF-8 bytes      character string (Perl string with UTF-8 flag)
 *   'A' uint32 count, values         array
 *   'H' uint32 count, (uint32 len, key bytes, value)*   hash
 * A request is a hash of the method's named arguments plus "class" and, once the
 * host's PVE::Storage defines it, "apiver" (its storage API version). A reply is
 * the method's return value followed by optional sections, each a tag byte and
 * an array value: 'W' lines the caller emits with Perl's warn, 'O' lines it
 * prints to standard output, 'L' [level, text] pairs for the method's log
 * function, 'P' values it appends to the array reference argument of kind push.
 */
#ifndef SWIFTPLUGIN_H
#define SWIFTPLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this ABI; the XS glue refuses to load a library that reports another. */
#define SPVE_ABI_VERSION 1u

/* An error reported by a call. `message` is one line without a trailing newline. */
typedef struct spve_v1_error {
    int32_t code;  /* an errno value when a system call failed, else SPVE_ERROR_* */
    char *message; /* malloc'd; release with spve_v1_free */
} spve_v1_error;

enum {
    SPVE_ERROR_NONE = 0,
    SPVE_ERROR_FAILED = -1,      /* the method refused or failed; message says why */
    SPVE_ERROR_BAD_REQUEST = -2, /* the request could not be decoded */
};

/* The ABI version the library implements (SPVE_ABI_VERSION it was built with). */
uint32_t spve_v1_abi_version(void);

/* Releases anything the library returned. NULL is ignored. */
void spve_v1_free(void *pointer);

/* The shape of every storage method. On success returns the reply (malloc'd)
 * and stores its length in *reply_length, leaving error->code SPVE_ERROR_NONE.
 * On failure fills *error and returns NULL, or, when the method warned or
 * printed before failing, a reply (result undef) whose sections the caller
 * emits before it reports the error. */
typedef uint8_t *(*spve_v1_method)(const uint8_t *request, size_t request_length,
                                    size_t *reply_length, spve_v1_error *error);

#define SPVE_V1_METHOD(name)                                                   \
    uint8_t *spve_v1_##name(const uint8_t *request, size_t request_length,     \
                            size_t *reply_length, spve_v1_error *error)

/* Storage methods, named after the PVE::Storage::Plugin methods they implement
 * (see perl/methods.txt for their arguments and return shapes). */

/* General */
SPVE_V1_METHOD(check_connection);
SPVE_V1_METHOD(activate_storage);
SPVE_V1_METHOD(deactivate_storage);
SPVE_V1_METHOD(status);
SPVE_V1_METHOD(parse_volname);
SPVE_V1_METHOD(get_subdir);
SPVE_V1_METHOD(filesystem_path);
SPVE_V1_METHOD(path);
SPVE_V1_METHOD(find_free_diskname);
SPVE_V1_METHOD(get_formats);
SPVE_V1_METHOD(get_identity);
SPVE_V1_METHOD(check_config);

/* Hooks */
SPVE_V1_METHOD(on_add_hook);
SPVE_V1_METHOD(on_update_hook);
SPVE_V1_METHOD(on_update_hook_full);
SPVE_V1_METHOD(on_delete_hook);

/* Images */
SPVE_V1_METHOD(list_images);
SPVE_V1_METHOD(create_base);
SPVE_V1_METHOD(clone_image);
SPVE_V1_METHOD(alloc_image);
SPVE_V1_METHOD(free_image);

/* Volumes */
SPVE_V1_METHOD(list_volumes);
SPVE_V1_METHOD(get_volume_attribute);
SPVE_V1_METHOD(update_volume_attribute);
SPVE_V1_METHOD(volume_size_info);
SPVE_V1_METHOD(volume_resize);
SPVE_V1_METHOD(volume_snapshot);
SPVE_V1_METHOD(volume_snapshot_info);
SPVE_V1_METHOD(volume_rollback_is_possible);
SPVE_V1_METHOD(volume_snapshot_rollback);
SPVE_V1_METHOD(volume_snapshot_delete);
SPVE_V1_METHOD(rename_snapshot);
SPVE_V1_METHOD(volume_qemu_snapshot_method);
SPVE_V1_METHOD(volume_snapshot_needs_fsfreeze);
SPVE_V1_METHOD(storage_can_replicate);
SPVE_V1_METHOD(volume_has_feature);
SPVE_V1_METHOD(map_volume);
SPVE_V1_METHOD(unmap_volume);
SPVE_V1_METHOD(activate_volume);
SPVE_V1_METHOD(deactivate_volume);
SPVE_V1_METHOD(rename_volume);
SPVE_V1_METHOD(prune_backups);
SPVE_V1_METHOD(qemu_blockdev_options);
SPVE_V1_METHOD(get_volume_notes);
SPVE_V1_METHOD(update_volume_notes);

/* Import and export */
SPVE_V1_METHOD(volume_export);
SPVE_V1_METHOD(volume_export_formats);
SPVE_V1_METHOD(volume_import);
SPVE_V1_METHOD(volume_import_formats);

/* Other */
SPVE_V1_METHOD(get_import_metadata);
SPVE_V1_METHOD(new_backup_provider);

/* Storage-layer helpers */
SPVE_V1_METHOD(archive_info);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTPLUGIN_H */
