// Runs Apache Iceberg's REST catalog test server on 127.0.0.1 only, for the tests.
//
// Why this file exists: upstream's org.apache.iceberg.rest.RESTCatalogServer (what the
// apache/iceberg-rest-fixture image runs) listens through `new Server(port)`, which binds every
// interface, and tests here may listen on loopback only. This does what RESTCatalogServer.start()
// does with upstream's own pieces: its backend catalog (its private initializeBackendCatalog: the
// CATALOG_* environment variables as catalog properties, JdbcCatalog on sqlite by default) behind
// RESTServerCatalogAdapter and RESTCatalogServlet with gzip, but on a connector bound to 127.0.0.1.
// It is in upstream's package because those classes are package-private.
//
// Usage: java -cp .cache/iceberg-rest/classes:.cache/iceberg-rest/lib/* org.apache.iceberg.rest.IcebergRestLauncher PORT
// PORT 0 picks a free port. Prints "iceberg-rest listening on 127.0.0.1:<port>" once it accepts connections.
package org.apache.iceberg.rest;

import java.lang.reflect.Method;
import org.eclipse.jetty.compression.gzip.GzipCompression;
import org.eclipse.jetty.compression.server.CompressionHandler;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public final class IcebergRestLauncher {
  public static void main(String[] args) throws Exception {
    Method init = RESTCatalogServer.class.getDeclaredMethod("initializeBackendCatalog");
    init.setAccessible(true);
    RESTCatalogServer.CatalogContext catalog = (RESTCatalogServer.CatalogContext) init.invoke(new RESTCatalogServer());

    ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    context.addServlet(new ServletHolder(new RESTCatalogServlet(new RESTServerCatalogAdapter(catalog))), "/*");
    CompressionHandler compression = new CompressionHandler();
    compression.putCompression(new GzipCompression());
    context.insertHandler(compression);

    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(Integer.parseInt(args[0]));
    server.addConnector(connector);
    server.setHandler(context);
    server.setStopAtShutdown(true);
    server.start();
    System.out.println("iceberg-rest listening on 127.0.0.1:" + connector.getLocalPort());
    server.join();
  }
}
