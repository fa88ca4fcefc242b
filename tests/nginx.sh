# A real nginx as the tracking-server stand-in, inside a network namespace.
# Source it; nginx_start NETNS DIR ADDR...; nginx_stop DIR.
# /redirect answers 302 like a click tracker; everything else 404.
# DIR/access.log is in the combined format; DIR/timed.log (NGINX_TIMED_FORMAT)
# adds X-Forwarded-For and the time in milliseconds, for comparisons that
# need sub-second times.
NGINX_TIMED_FORMAT='$remote_addr [$msec] "$request" $status "$http_user_agent" "$http_x_forwarded_for"'

nginx_start() {
	local ns=$1 dir=$2; shift 2
	local listens="" a
	mkdir -p "$dir"
	for a in "$@"; do
		case $a in
			*:*) listens+="        listen [$a]:80;"$'\n' ;;
			*) listens+="        listen $a:80;"$'\n' ;;
		esac
	done
	cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon on;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 256; }
http {
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    log_format timed '$NGINX_TIMED_FORMAT';
    access_log $dir/access.log combined;
    access_log $dir/timed.log timed;
    keepalive_requests 1000;
    server {
$listens
        location = /redirect { return 302 https://www.example.com/landing; }
        location /c/ { return 302 https://www.example.com/landing; }
        location / { return 404; }
    }
}
CONF
	ip netns exec "$ns" nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log" || return 1
	local i
	for i in $(seq 50); do
		[ -s "$dir/nginx.pid" ] && return 0
		sleep 0.1
	done
	return 1
}

nginx_stop() {
	local dir=$1 pid
	[ -s "$dir/nginx.pid" ] || return 0
	pid=$(cat "$dir/nginx.pid")
	kill "$pid" 2>/dev/null || true
	local i
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
}
