/*
 * dtx/export.h - symbol visibility for the public API.
 *
 * The library is built with -fvisibility=hidden; only functions marked DTX_API
 * are exported from the shared library. A static build defines DTX_STATIC.
 */
#ifndef DTX_EXPORT_H
#define DTX_EXPORT_H

#if defined(DTX_STATIC)
#define DTX_API
#elif defined(_WIN32)
#if defined(DTX_BUILDING)
#define DTX_API __declspec(dllexport)
#else
#define DTX_API __declspec(dllimport)
#endif
#else
#define DTX_API __attribute__((visibility("default")))
#endif

#if defined(__GNUC__)
#define DTX_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define DTX_PRINTF(fmt, args)
#endif

#endif /* DTX_EXPORT_H */
