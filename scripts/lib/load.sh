# Sourced by the scripts that load tern with wrk: what a browser sends besides `Host`, for
# `wrk "${browser_fields[@]}" URL` (User-Agent, Accept, Cookie, Referer, Sec-Fetch-*…: eleven fields).
browser_fields=(-H "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    -H "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" -H "Accept-Language: en-US,en;q=0.5"
    -H "Accept-Encoding: gzip, deflate, br, zstd" -H "Referer: https://www.example.com/articles/2026/12/some-long-article-name"
    -H "Cookie: session=5f2b8c1e9a7d4e3f8b6a2c1d0e9f8a7b; theme=dark; _ga=GA1.2.1234567890.1700000000"
    -H "Upgrade-Insecure-Requests: 1" -H "Sec-Fetch-Dest: document" -H "Sec-Fetch-Mode: navigate"
    -H "Sec-Fetch-Site: same-origin" -H "Priority: u=0, i")
