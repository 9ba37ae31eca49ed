#ifndef FERRY_CCURLSHIMS_H
#define FERRY_CCURLSHIMS_H
// libcurl: curl_easy_setopt / curl_easy_getinfo are variadic, which Swift cannot call
// (https://curl.se/libcurl/c/curl_easy_setopt.html). Only Storage/S3/CurlEasy.swift uses these.
#include <curl/curl.h>

CURLcode ferry_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ferry_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ferry_curl_setopt_pointer(CURL *handle, CURLoption option, const void *value);
CURLcode ferry_curl_setopt_write_function(CURL *handle, size_t (*function)(char *, size_t, size_t, void *));
CURLcode ferry_curl_setopt_header_function(CURL *handle, size_t (*function)(char *, size_t, size_t, void *));
CURLcode ferry_curl_setopt_read_function(CURL *handle, size_t (*function)(char *, size_t, size_t, void *));
CURLcode ferry_curl_setopt_seek_function(CURL *handle, int (*function)(void *, curl_off_t, int));
CURLcode ferry_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);

#endif
