/** For clients that take a server's URL apart (Cluster seeds, Sentinels). */

/** The address and the (decoded) user and password in `url`, for clients that take them apart. */
export function partsOf(url: string) {
  const { hostname, port, username, password } = new URL(url);
  return {
    host: hostname,
    port: Number(port),
    auth: {
      ...(username && { username: decodeURIComponent(username) }),
      ...(password && { password: decodeURIComponent(password) }),
    },
  };
}
